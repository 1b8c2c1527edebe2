// A scripted voice model for the Realtime emulator: it listens to the caller's audio with a small
// energy-based VAD and behaves like the real service with server VAD on: speech_started (which
// cancels the answer being spoken: barge-in), speech_stopped, a user transcript, and an answer,
// either speech or a function call; after the function outputs, the next response.create gets a
// spoken answer about them. It cannot understand speech, so what the caller says in each turn
// and what the model answers come from a script.
import type { RealtimeClientEvent } from 'openai/resources/realtime/realtime';
import { FRAME_BYTES, MULAW_RATE, mulawRms, SPEECH_RMS } from './audio-codec';
import type { FakeRealtimeConnection } from './fake-realtime-server';
import { SpeechCache } from './speech';

export type VoiceReply = { say: string } | { call: string; arguments: Record<string, unknown> };

export interface VoiceTurn {
  /** What the caller says in this turn (becomes the user transcript). */
  user: string;
  reply: VoiceReply;
}

export interface ToolOutput {
  name: string;
  output: string;
}

export interface VoiceScript {
  /** Said on a response.create before the caller has said anything (the server's greeting). */
  greeting: string;
  /** The caller's turns, in order. */
  turns: VoiceTurn[];
  /** What the model says on the response.create that follows function outputs. */
  afterTools(outputs: ToolOutput[]): string;
  /** Turns past the end of `turns` (default: a short "I cannot understand speech" answer). */
  fallback?(turnIndex: number, speechMs: number): VoiceTurn;
}

/** What the model did, when (performance.now()), for logs and latency summaries. */
export type VoiceAction =
  | { type: 'speech_started'; at: number; itemId: string }
  | { type: 'speech_stopped'; at: number; itemId: string; speechMs: number; transcript: string }
  | { type: 'answer'; at: number; text: string; audioMs: number }
  | { type: 'function_call'; at: number; name: string; arguments: string };

export interface ScriptedVoiceModelOptions {
  script?: VoiceScript;
  speech?: SpeechCache;
  /** Audio per response.output_audio.delta (ms). */
  chunkMs?: number;
  /** How much faster than real time answers are streamed (the real service sends ahead too). */
  speedUp?: number;
  /** A 20 ms frame is speech when its RMS (16-bit scale) is above this: ≈ -44 dBFS by default,
   * low enough that quiet consonants and short pauses inside a sentence do not end the turn. */
  vadThreshold?: number;
  /** Speech must last this long before speech_started. */
  vadStartMs?: number;
  onAction?: (connection: FakeRealtimeConnection, action: VoiceAction) => void;
}

const FRAME_MS = (FRAME_BYTES * 1000) / MULAW_RATE;
const DEFAULT_SILENCE_MS = 500;

export const DEFAULT_VOICE_SCRIPT: VoiceScript = {
  greeting: 'Hello! This is the offline Realtime emulator. Say something, and I will answer.',
  turns: [],
  afterTools: (outputs) => `The function ${outputs.map((o) => o.name).join(' and ')} returned its result.`,
  fallback: (_turn, speechMs) => ({
    user: `(${(speechMs / 1000).toFixed(1)} seconds of caller audio)`,
    reply: { say: 'I heard you. I am only an emulator, so I cannot understand speech, but the call works.' },
  }),
};

/** Attach to an emulator: `FakeRealtimeServer.start({ onConnection: (c) => model.attach(c) })`. */
export class ScriptedVoiceModel {
  private readonly speech: SpeechCache;

  constructor(private readonly opts: ScriptedVoiceModelOptions = {}) {
    this.speech = opts.speech ?? new SpeechCache();
  }

  attach(connection: FakeRealtimeConnection): ScriptedConversation {
    return new ScriptedConversation(connection, this.opts.script ?? DEFAULT_VOICE_SCRIPT, this.speech, this.opts);
  }

  /** Synthesises the script's fixed phrases now, so the first answers are not delayed by TTS. */
  async prepare(): Promise<void> {
    const script = this.opts.script ?? DEFAULT_VOICE_SCRIPT;
    const phrases = [script.greeting, ...script.turns.flatMap((t) => ('say' in t.reply ? [t.reply.say] : []))];
    await Promise.all(phrases.map((p) => this.speech.speak(p)));
  }
}

/** One call's conversation with the scripted model. */
export class ScriptedConversation {
  private turnIndex = 0;
  private speaking = false;
  private voicedMs = 0;
  private silenceMs = 0;
  private speechMs = 0;
  private userItemId = '';
  private carry: Buffer = Buffer.alloc(0);
  /** Bumped whenever the caller starts talking: answers prepared before that are dropped. */
  private generation = 0;
  /** Responses run one after another (the service allows one at a time). */
  private queue: Promise<void> = Promise.resolve();
  private readonly toolNames = new Map<string, string>();
  private toolOutputs: ToolOutput[] = [];

  constructor(
    private readonly connection: FakeRealtimeConnection,
    private readonly script: VoiceScript,
    private readonly speech: SpeechCache,
    private readonly opts: ScriptedVoiceModelOptions,
  ) {
    connection.observe((event) => this.onClientEvent(event));
  }

  private onClientEvent(event: RealtimeClientEvent): void {
    switch (event.type) {
      case 'input_audio_buffer.append':
        if (this.turnDetection()) this.listen(Buffer.from(event.audio, 'base64'));
        return;
      case 'conversation.item.create': {
        const item = event.item;
        if (item.type === 'function_call_output' && this.toolNames.has(item.call_id)) {
          this.toolOutputs.push({ name: this.toolNames.get(item.call_id)!, output: item.output });
        }
        return;
      }
      case 'response.create':
        // The emulator has already rejected it if a response was in progress.
        if (this.connection.responding) return;
        return this.answer(this.nextAnswerText());
    }
  }

  private turnDetection(): { silenceMs: number; createResponse: boolean } | null {
    const detection = this.connection.session.audio.input.turn_detection;
    if (!detection) return null;
    const silence = detection.type === 'server_vad' ? detection.silence_duration_ms : undefined;
    return { silenceMs: silence ?? DEFAULT_SILENCE_MS, createResponse: detection.create_response !== false };
  }

  // Energy VAD over 20 ms frames (appends can be any size; a partial frame waits for the next).
  private listen(audio: Buffer): void {
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, audio]) : audio;
    let offset = 0;
    for (; offset + FRAME_BYTES <= data.length; offset += FRAME_BYTES) {
      this.frame(mulawRms(data, offset, offset + FRAME_BYTES) > (this.opts.vadThreshold ?? SPEECH_RMS));
    }
    this.carry = Buffer.from(data.subarray(offset));
  }

  private frame(voiced: boolean): void {
    if (!this.speaking) {
      this.voicedMs = voiced ? this.voicedMs + FRAME_MS : 0;
      if (this.voicedMs >= (this.opts.vadStartMs ?? 60)) this.startOfSpeech();
      return;
    }
    this.speechMs += FRAME_MS;
    this.silenceMs = voiced ? 0 : this.silenceMs + FRAME_MS;
    if (this.silenceMs >= this.turnDetection()!.silenceMs) this.endOfSpeech();
  }

  private startOfSpeech(): void {
    this.speaking = true;
    this.silenceMs = 0;
    this.speechMs = this.voicedMs;
    this.generation++;
    // Cancels the answer being spoken when interrupt_response is on, as the real VAD does.
    this.userItemId = this.connection.speechStarted();
    this.emit({ type: 'speech_started', at: performance.now(), itemId: this.userItemId });
  }

  private endOfSpeech(): void {
    this.speaking = false;
    this.voicedMs = 0;
    const speechMs = this.speechMs - this.silenceMs;
    const index = this.turnIndex++;
    const turn = this.script.turns[index] ?? (this.script.fallback ?? DEFAULT_VOICE_SCRIPT.fallback!)(index, speechMs);
    this.connection.speechStopped(this.userItemId);
    this.connection.userTranscript(this.userItemId, turn.user);
    this.emit({ type: 'speech_stopped', at: performance.now(), itemId: this.userItemId, speechMs, transcript: turn.user });
    if (!this.turnDetection()?.createResponse) return;
    const reply = turn.reply;
    if ('say' in reply) return this.answer(reply.say);
    this.enqueue(() => {
      const args = JSON.stringify(reply.arguments);
      const { callIds } = this.connection.functionCallResponse([{ name: reply.call, arguments: args }]);
      this.toolNames.set(callIds[0], reply.call);
      this.emit({ type: 'function_call', at: performance.now(), name: reply.call, arguments: args });
    });
  }

  private nextAnswerText(): string {
    if (this.toolOutputs.length > 0) {
      const outputs = this.toolOutputs;
      this.toolOutputs = [];
      return this.script.afterTools(outputs);
    }
    return this.turnIndex === 0 ? this.script.greeting : 'Is there anything else I can help you with?';
  }

  /** Speaks `text` as one audio response, unless the caller starts talking before it begins. */
  private answer(text: string): void {
    const audio = this.speech.speak(text);
    this.enqueue(async () => {
      const pcm = await audio;
      if (this.connection.closed) return;
      const chunkBytes = Math.round(((this.opts.chunkMs ?? 100) * MULAW_RATE) / 1000);
      const chunks: Buffer[] = [];
      for (let i = 0; i < pcm.length; i += chunkBytes) chunks.push(pcm.subarray(i, i + chunkBytes));
      this.emit({ type: 'answer', at: performance.now(), text, audioMs: pcm.length / (MULAW_RATE / 1000) });
      const paceMs = (this.opts.chunkMs ?? 100) / (this.opts.speedUp ?? 2);
      await this.connection.audioResponse({ chunks, transcript: text, paceMs, prebufferChunks: 3 });
    });
  }

  // Runs `step` after the responses before it, unless the caller has started talking since.
  private enqueue(step: () => void | Promise<void>): void {
    const generation = this.generation;
    this.queue = this.queue.then(() => (generation === this.generation && !this.connection.closed ? step() : undefined)).catch(() => undefined); // a response the fake refuses (e.g. the socket closed) ends that step only
  }

  private emit(action: VoiceAction): void {
    this.opts.onAction?.(this.connection, action);
  }
}
