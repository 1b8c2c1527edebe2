// A scripted voice model for the GPT-Live emulator, the full-duplex counterpart of
// ScriptedVoiceModel: it listens to the caller's audio with a small energy VAD, stops talking by
// itself when the caller cuts in (with a little audio already generated still on its way, as the
// real model has), transcribes the caller's turn, and answers — speech, or a task delegated to its
// Responses backend whose function calls the application runs; once the outputs are in and the
// application asks (response.create), the backend answers in text and the model speaks it. It
// speaks first when told to by commentary (AGENT_GREETING). Audio goes out faster than real time.
// It cannot understand speech: the caller's words and the model's answers come from a VoiceScript.
import type { ClientEvent } from 'openai/resources/live/live';
import { FRAME_BYTES, MULAW_RATE, mulawRms, SPEECH_RMS } from './audio-codec';
import type { FakeLiveConnection } from './fake-live-server';
import { SpeechCache } from './speech';
import { DEFAULT_VOICE_SCRIPT, type ToolOutput, type VoiceAction, type VoiceScript } from './voice-model';

export interface ScriptedLiveModelOptions {
  script?: VoiceScript;
  speech?: SpeechCache;
  /** Audio per session.output_audio.delta (ms). */
  chunkMs?: number;
  /** How much faster than real time the model streams its speech. */
  speedUp?: number;
  /** Chunks still sent after the model noticed the caller cutting in. */
  lateChunks?: number;
  vadThreshold?: number;
  vadStartMs?: number;
  /** Silence that ends the caller's turn. */
  silenceMs?: number;
  onAction?: (connection: FakeLiveConnection, action: VoiceAction) => void;
}

const FRAME_MS = (FRAME_BYTES * 1000) / MULAW_RATE;

/** Said when the application asks the model to carry on after a reconnect. */
export const RESUME_LINE = 'Sorry, the line dropped for a moment. I am back.';
/** Said when a task was delegated to the application (client delegation) and it had nothing to give. */
export const CANNOT_LINE = 'Sorry, I cannot do that for you right now.';

/** Attach to an emulator: `FakeLiveServer.start({ onConnection: (c) => model.attach(c) })`. */
export class ScriptedLiveModel {
  private readonly speech: SpeechCache;

  constructor(private readonly opts: ScriptedLiveModelOptions = {}) {
    this.speech = opts.speech ?? new SpeechCache();
  }

  attach(connection: FakeLiveConnection): ScriptedLiveConversation {
    return new ScriptedLiveConversation(connection, this.opts.script ?? DEFAULT_VOICE_SCRIPT, this.speech, this.opts);
  }

  /** Synthesises the script's fixed phrases now, so the first answers are not delayed by TTS. */
  async prepare(): Promise<void> {
    const script = this.opts.script ?? DEFAULT_VOICE_SCRIPT;
    const phrases = [script.greeting, RESUME_LINE, ...script.turns.flatMap((t) => ('say' in t.reply ? [t.reply.say] : []))];
    await Promise.all(phrases.map((p) => this.speech.speak(p)));
  }
}

/** One call's conversation with the scripted model. */
export class ScriptedLiveConversation {
  private turnIndex = 0;
  private greeted = false;
  private speaking = false;
  private voicedMs = 0;
  private silenceMs = 0;
  private speechMs = 0;
  private carry: Buffer = Buffer.alloc(0);
  /** Bumped whenever the caller starts talking: answers prepared before that are dropped. */
  private generation = 0;
  private queue: Promise<void> = Promise.resolve();
  private readonly toolNames = new Map<string, string>();
  private toolOutputs: ToolOutput[] = [];

  constructor(
    private readonly connection: FakeLiveConnection,
    private readonly script: VoiceScript,
    private readonly speech: SpeechCache,
    private readonly opts: ScriptedLiveModelOptions,
  ) {
    connection.observe((event) => this.onClientEvent(event));
  }

  private onClientEvent(event: ClientEvent): void {
    switch (event.type) {
      case 'session.input_audio.append':
        return this.listen(Buffer.from(event.audio, 'base64'));
      case 'session.commentary.append':
        if (event.delegation_id !== null) return this.answer(CANNOT_LINE);
        // An instruction to speak: the greeting first, then whatever the application asks.
        if (/connection dropped/i.test(event.content)) return this.answer(RESUME_LINE);
        if (!this.greeted && this.turnIndex === 0) {
          this.greeted = true;
          return this.answer(this.script.greeting);
        }
        return this.answer('Is there anything else I can help you with?');
      case 'session.thinking.append':
        if (event.delegation_id !== null) this.answer(CANNOT_LINE);
        return;
      case 'response.item.create': {
        const item = event.item as { type?: string; call_id?: string; output?: unknown };
        if (item.type === 'function_call_output' && item.call_id && this.toolNames.has(item.call_id)) {
          this.toolOutputs.push({ name: this.toolNames.get(item.call_id)!, output: String(item.output) });
        }
        return;
      }
      case 'response.create': {
        const outputs = this.toolOutputs;
        this.toolOutputs = [];
        const text = outputs.length > 0 ? this.script.afterTools(outputs) : 'Is there anything else I can help you with?';
        const generation = this.generation;
        // The backend answers in text; the model then says it.
        this.enqueue(() => void this.connection.backendAnswer(text), generation);
        return this.answer(text, generation);
      }
    }
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
    if (this.silenceMs >= (this.opts.silenceMs ?? 500)) this.endOfSpeech();
  }

  private startOfSpeech(): void {
    this.speaking = true;
    this.silenceMs = 0;
    this.speechMs = this.voicedMs;
    this.generation++;
    // Full duplex: the model hears the caller and stops talking by itself.
    this.connection.interrupt();
    this.emit({ type: 'speech_started', at: performance.now(), itemId: '' });
  }

  private endOfSpeech(): void {
    this.speaking = false;
    this.voicedMs = 0;
    const speechMs = this.speechMs - this.silenceMs;
    const index = this.turnIndex++;
    const turn = this.script.turns[index] ?? (this.script.fallback ?? DEFAULT_VOICE_SCRIPT.fallback!)(index, speechMs);
    this.connection.hearCaller(turn.user);
    this.emit({ type: 'speech_stopped', at: performance.now(), itemId: '', speechMs, transcript: turn.user });
    const reply = turn.reply;
    if ('say' in reply) return this.answer(reply.say);
    const args = JSON.stringify(reply.arguments);
    this.enqueue(() => {
      if (this.connection.delegation === 'client') {
        this.connection.delegateToClient();
      } else {
        const { callIds } = this.connection.delegate([{ name: reply.call, arguments: args }]);
        this.toolNames.set(callIds[0], reply.call);
      }
      this.emit({ type: 'function_call', at: performance.now(), name: reply.call, arguments: args });
    });
  }

  /** Speaks `text`, unless the caller starts talking before it begins. */
  private answer(text: string, generation = this.generation): void {
    const audio = this.speech.speak(text);
    this.enqueue(async () => {
      const pcm = await audio;
      if (this.connection.closed || generation !== this.generation) return;
      const chunkBytes = Math.round(((this.opts.chunkMs ?? 100) * MULAW_RATE) / 1000);
      const chunks: Buffer[] = [];
      for (let i = 0; i < pcm.length; i += chunkBytes) chunks.push(pcm.subarray(i, i + chunkBytes));
      this.emit({ type: 'answer', at: performance.now(), text, audioMs: pcm.length / (MULAW_RATE / 1000) });
      const paceMs = (this.opts.chunkMs ?? 100) / (this.opts.speedUp ?? 2);
      await this.connection.speak({ chunks, transcript: text, paceMs, prebufferChunks: 3, lateChunks: this.opts.lateChunks ?? 2 });
    }, generation);
  }

  // Runs `step` after the steps before it, unless the caller has started talking since.
  private enqueue(step: () => void | Promise<void>, generation = this.generation): void {
    this.queue = this.queue.then(() => (generation === this.generation && !this.connection.closed ? step() : undefined)).catch(() => undefined);
  }

  private emit(action: VoiceAction): void {
    this.opts.onAction?.(this.connection, action);
  }
}
