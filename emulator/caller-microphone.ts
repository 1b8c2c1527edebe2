// The caller's side of the audio: like a phone, it sends a 20 ms frame every 20 ms for the whole
// call (speech when the caller talks, silence otherwise), on a fixed schedule so timer jitter
// never adds up to drift. If the event loop stalls, the frames that fell due go out at once,
// as a network burst would deliver them.
import { FRAME_BYTES, MULAW_SILENCE, mulawRms, SPEECH_RMS } from './audio-codec';
import type { TwilioCallSimulator } from './twilio-call-simulator';

const FRAME_MS = 20;

interface Utterance {
  audio: Buffer;
  offset: number;
  done: () => void;
}

export interface MicrophoneOptions {
  /** Produces frame `seq` instead of speech/silence (the benchmark tags frames this way). */
  frame?: (seq: number) => Buffer;
}

export class CallerMicrophone {
  private readonly silence = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE);
  private readonly queue: Utterance[] = [];
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private seq = 0;
  /** performance.now() when the first frame of the last utterance was sent: where the caller started talking. */
  lastSpeechStartedAt = 0;
  /** performance.now() when the last frame of the last utterance was sent. */
  lastSpeechEndedAt = 0;
  /**
   * performance.now() when the last frame with speech in it was sent: where the caller actually
   * stopped talking (a recording's trailing silence is not talking; the model may answer during it).
   */
  lastVoiceAt = 0;

  constructor(
    private readonly call: TwilioCallSimulator,
    private readonly opts: MicrophoneOptions = {},
  ) {}

  get framesSent(): number {
    return this.seq;
  }

  get talking(): boolean {
    return this.queue.length > 0;
  }

  start(): void {
    if (this.timer) return;
    this.startedAt = performance.now();
    this.seq = 0;
    this.tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const utterance of this.queue.splice(0)) utterance.done();
  }

  /** Speaks `audio` (8 kHz mu-law) after whatever is already queued; resolves when its last frame is sent. */
  say(audio: Buffer): Promise<void> {
    if (!this.timer && this.call.closed) return Promise.resolve(); // the call is over: nobody listens
    return new Promise((done) => this.queue.push({ audio, offset: 0, done }));
  }

  private tick(): void {
    this.timer = null;
    if (this.call.closed) return this.stop();
    const now = performance.now();
    while (this.startedAt + this.seq * FRAME_MS <= now) this.call.sendMedia(this.nextFrame());
    this.timer = setTimeout(() => this.tick(), Math.max(0, this.startedAt + this.seq * FRAME_MS - performance.now()));
  }

  private nextFrame(): Buffer {
    const seq = this.seq++;
    if (this.opts.frame) return this.opts.frame(seq);
    const utterance = this.queue[0];
    if (!utterance) return this.silence;
    const frame = Buffer.alloc(FRAME_BYTES, MULAW_SILENCE);
    if (utterance.offset === 0) this.lastSpeechStartedAt = performance.now();
    utterance.audio.copy(frame, 0, utterance.offset, utterance.offset + FRAME_BYTES);
    utterance.offset += FRAME_BYTES;
    if (mulawRms(frame) > SPEECH_RMS) this.lastVoiceAt = performance.now();
    if (utterance.offset >= utterance.audio.length) {
      this.queue.shift();
      this.lastSpeechEndedAt = performance.now();
      utterance.done();
    }
    return frame;
  }
}
