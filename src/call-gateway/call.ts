import type WebSocket from 'ws';
import type { AppConfig } from '../config/app-config';
import type { ModelDialer } from '../openai/model-dialer.service';
import { ModelLink, type ModelLinkListener } from '../openai/model-link';
import type { AgentSettings, SessionConfigService } from '../openai/session-config.service';
import type { ToolSchema, VoiceSession } from '../openai/voice-engine';
import { offeredTools } from '../tools/offered-tools';
import type { ToolRegistry } from '../tools/tool-registry.service';
import { MAX_EVENT_TEXT, type CallEndReason, type CallEventBody, type CallEventBus, type VoiceEngineName } from './call-events';
import { CallLogger } from './call-logger';
import type { CallRegistry } from './call-registry.service';
import { FunctionCalls } from './function-calls';
import type { LiveCall } from './live-call';
import { CloseCode, MediaStream, type MediaStreamListener, type StreamEnd, type StreamStart } from './media-stream';
import { MULAW_BYTES_PER_MS, Playback } from './playback';
import { base64ByteLength } from './twilio-messages';
import { Turns, type TurnsHost } from './turns';

export interface CallDeps {
  config: AppConfig;
  events: CallEventBus;
  tools: ToolRegistry;
  registry: CallRegistry;
  sessionConfig: SessionConfigService;
  dialer: ModelDialer;
}

/** A call's lifecycle, changed only by `moveTo`. */
export type CallState = 'awaiting-start' | 'live' | 'ending' | 'ended';

/** 20 ms of mu-law. */
const FRAME_BYTES = 20 * MULAW_BYTES_PER_MS;

/**
 * One phone call. It composes the Twilio media stream, the model link, what the caller heard
 * (Playback) and whose turn it is (Turns), and alone owns the call's lifecycle
 * `awaiting-start → live → ending → ended`. `end()` is the only way out, safe from anywhere and
 * any number of times: once a call is ending nothing dials, arms a timer or publishes after
 * `call.ended`. A plain class (made by CallFactory), so every call has its own state.
 */
export class Call implements LiveCall {
  private readonly logger = new CallLogger('Call', this);
  private lifecycle: CallState = 'awaiting-start';
  /** The call was live at some point: its end is published. */
  private wentLive = false;
  callSid = '';
  streamSid = '';
  startedAt = Date.now();
  lastMediaAt = Date.now();
  framesIn = 0;
  lateDeltasDropped = 0;
  endReason: CallEndReason | null = null;
  private endDetail: string | undefined;
  private inBytes = 0;
  private outBytes = 0;
  private bargeIns = 0;
  private startedPerf = 0;
  private firstAudioMs: number | null = null;
  /** When the caller last stopped talking, until the answer's first audio goes out (answer latency). */
  private speechStoppedAt: number | null = null;
  /** Items and the response cut by the last interruption: their late audio is dropped. */
  private cutItems: ReadonlySet<string> = new Set();
  private cutResponseId: string | null = null;
  private readonly stream: MediaStream;
  private readonly playback = new Playback();
  private readonly abort = new AbortController();
  private link: ModelLink | null = null;
  private turns: Turns | null = null;
  private counted: boolean;

  constructor(
    socket: WebSocket,
    private readonly deps: CallDeps,
  ) {
    this.stream = new MediaStream(socket, deps.config.STREAM_START_TIMEOUT_MS);
    this.stream.listen(this.streamListener());
    this.counted = deps.registry.streamOpened();
    if (!this.counted) {
      this.logger.warn('too many media sockets waiting for start; refusing this one');
      this.stream.close(CloseCode.tryAgainLater, 'too many streams waiting for start');
      this.moveTo('ended');
    }
  }

  get state(): CallState {
    return this.lifecycle;
  }

  get modelAlive(): boolean {
    return this.link?.alive ?? false;
  }

  get framesOut(): number {
    return Math.round(this.outBytes / FRAME_BYTES);
  }

  get badFrames(): number {
    return this.stream.badFrames;
  }

  // ---- the lifecycle ----

  /** The one place the lifecycle changes; it publishes what the change means. */
  private moveTo(next: CallState): void {
    const previous = this.lifecycle;
    if (previous === 'ended') return;
    this.lifecycle = next;
    if (next === 'live') {
      this.wentLive = true;
      this.deps.events.publish(this.callSid, this.startedEvent());
      this.logger.log(`call started (stream ${this.streamSid})`);
    } else if (next === 'ended' && previous === 'ending' && this.wentLive && this.endReason !== null) {
      const durationMs = Date.now() - this.startedAt;
      this.deps.events.publish(this.callSid, {
        type: 'call.ended',
        reason: this.endReason,
        durationMs,
        framesIn: this.framesIn,
        framesOut: this.framesOut,
        badFrames: this.badFrames,
        lateDeltasDropped: this.lateDeltasDropped,
        firstAudioMs: this.firstAudioMs,
        bargeIns: this.bargeIns,
        reconnects: this.link?.reconnectCount ?? 0,
        audioInMs: Math.round(this.inBytes / MULAW_BYTES_PER_MS),
        audioOutMs: Math.round(this.outBytes / MULAW_BYTES_PER_MS),
        ...(this.endDetail !== undefined && { detail: this.endDetail }),
      });
      this.logger.log(`call ended: ${this.endReason} after ${Math.round(durationMs / 1000)} s (${this.framesIn} frames in, ${this.framesOut} out)`);
    }
  }

  /**
   * Ends the call and releases everything it holds. Safe to call more than once, from anywhere.
   * Twilio, the registry and the tools let go at once; `call.ended` waits for the model's last word
   * (GPT-Live reports the session's final seconds when it closes, bounded by a short wait), so
   * the call's usage is complete when it ends.
   */
  end(reason: CallEndReason, detail?: string): void {
    if (this.lifecycle === 'ending' || this.lifecycle === 'ended') return;
    const wasLive = this.lifecycle === 'live';
    this.endReason = reason;
    this.endDetail = detail;
    this.moveTo('ending');
    this.abort.abort();
    this.turns?.close();
    let modelDone = this.link === null;
    let released = false;
    this.link?.close(() => {
      modelDone = true;
      if (released) this.moveTo('ended');
    });
    this.stream.close(closeCode(reason), reason);
    if (wasLive) this.deps.registry.release(this);
    else this.settleUnstarted();
    released = true;
    if (modelDone) this.moveTo('ended');
  }

  private publish(body: CallEventBody): void {
    if (this.lifecycle === 'ended') return;
    this.deps.events.publish(this.callSid, body);
  }

  /** A bug handling one message ends this call cleanly (the caller hears the apology); other calls and the process go on. */
  private failed(err: unknown): void {
    this.logger.error('internal error, ending the call', err);
    this.end('internal-error');
  }

  private settleUnstarted(): void {
    if (!this.counted) return;
    this.counted = false;
    this.deps.registry.streamSettled();
  }

  // ---- Twilio side ----

  /** The transport catches what its handlers throw and reports it as onFault: no try/catch here. */
  private streamListener(): MediaStreamListener {
    return {
      onStart: (start) => this.start(start),
      onMedia: (payload) => {
        // The hot path: count, and hand the payload to the model link.
        if (this.lifecycle !== 'live') return;
        this.framesIn++;
        this.inBytes += base64ByteLength(payload);
        this.lastMediaAt = Date.now();
        this.link!.appendAudio(payload);
      },
      onMark: (name) => {
        if (this.lifecycle === 'live' && this.playback.markEchoed(name, performance.now())) this.turns!.maybeHangUp();
      },
      onDtmf: (digit) => {
        if (this.lifecycle !== 'live') return;
        this.link!.addUserText(`[The caller pressed the "${digit}" key on the phone keypad.]`);
        this.publish({ type: 'dtmf', digit });
      },
      onStop: () => this.end('caller-hung-up'),
      onClosed: (why: StreamEnd) => this.end(STREAM_END_REASONS[why]),
      onFault: (err) => this.failed(err),
    };
  }

  private start(start: StreamStart): void {
    if (this.lifecycle !== 'awaiting-start') return;
    this.settleUnstarted();
    const { registry, config } = this.deps;
    const params = start.parameters;
    this.callSid = start.callSid;
    this.streamSid = start.streamSid;
    const claimed = registry.claim(this.callSid, params.streamToken);
    if (claimed === 'bad-token' || (claimed === 'missing' && !config.ALLOW_UNRESERVED_STREAMS)) {
      // A stream URL is public; only streams for calls this server answered may spend the API key.
      return this.refuse(CloseCode.protocolError, claimed === 'bad-token' ? 'invalid stream token' : 'no reservation for this call');
    }
    const reserved = typeof claimed === 'object' ? claimed : null;
    const admission = registry.admit(this, reserved !== null);
    if (admission !== 'ok') {
      reserved?.session.close();
      return this.refuse(CloseCode.tryAgainLater, admission);
    }
    this.from = params.from ?? null;
    this.to = params.to ?? null;
    this.direction = params.direction ?? null;
    // Fixed for the whole call, so a reconnect or rollover restores exactly this configuration.
    const settings = reserved?.settings ?? this.deps.sessionConfig.current;
    const tools = reserved?.tools ?? offeredTools(this.deps.tools, settings.enabledTools);
    this.voice = settings.voice;
    const engine = this.deps.dialer.engineFor(settings);
    this.engine = engine.name;
    this.model = engine.model;
    this.startedAt = Date.now();
    this.startedPerf = performance.now();
    this.moveTo('live');
    this.compose(settings, tools, reserved?.session);
  }

  private from: string | null = null;
  private to: string | null = null;
  private direction: string | null = null;
  private voice = '';
  /** The engine and model this call runs on (fixed for the call: its settings chose them when it was answered). */
  private engine: VoiceEngineName = 'realtime';
  private model = '';

  private startedEvent(): CallEventBody {
    return {
      type: 'call.started',
      streamSid: this.streamSid,
      from: this.from,
      to: this.to,
      direction: this.direction,
      startedAt: new Date(this.startedAt).toISOString(),
      engine: this.engine,
      model: this.model,
      voice: this.voice,
    };
  }

  /** A stream this server will not serve: close it with a reason, publish nothing (it never was a call). */
  private refuse(code: number, why: string): void {
    this.logger.warn(`refusing the stream: ${why}`);
    this.moveTo('ended');
    this.stream.close(code, why);
  }

  // ---- composition ----

  private compose(settings: AgentSettings, tools: ToolSchema[], predialled: VoiceSession | undefined): void {
    const { config, dialer } = this.deps;
    const functionCalls = new FunctionCalls(
      this.deps.tools,
      toolNames(tools),
      { callSid: this.callSid, signal: this.abort.signal, requestHangup: () => this.turns?.requestHangup() },
      (body) => this.publish(body),
    );
    this.turns = new Turns(this.turnsHost(), functionCalls);
    this.link = new ModelLink(
      { callSid: this.callSid, settings, tools },
      (spec) => dialer.dial(spec),
      {
        maxAttempts: config.MODEL_RECONNECT_MAX_ATTEMPTS,
        baseDelayMs: config.MODEL_RECONNECT_BASE_DELAY_MS,
        maxDelayMs: config.MODEL_RECONNECT_MAX_DELAY_MS,
        maxHeldFrames: Math.ceil(config.RECONNECT_AUDIO_BUFFER_MS / 20),
        sessionMaxMs: config.MODEL_SESSION_MAX_S * 1000,
        confirmTimeoutMs: config.MODEL_CONFIRM_TIMEOUT_MS,
        pingIntervalMs: config.MODEL_PING_INTERVAL_MS,
      },
      this.linkListener(),
    );
    if (!predialled) this.publish({ type: 'model.status', status: 'connecting' });
    this.link.start(predialled);
    if (this.lifecycle === 'live' && config.AGENT_GREETING) this.turns.request('greeting', config.AGENT_GREETING);
  }

  private turnsHost(): TurnsHost {
    return {
      sendRequest: (request) => this.link?.requestResponse(request) ?? false,
      sendToolResult: (callId, output) => this.link?.sendToolResult(callId, output),
      isPlaying: () => this.playback.isPlaying(performance.now()),
      playbackDone: () => this.playback.pendingMarks === 0,
      hangUp: () => this.end('agent-ended'),
      failed: (err) => this.failed(err),
    };
  }

  // ---- model side ----

  private linkListener(): ModelLinkListener {
    return {
      onAudio: (itemId, responseId, base64) => this.forwardAudio(itemId, responseId, base64),
      onSpeechStarted: () => {
        this.turns!.onSpeechStarted();
        this.bargeIn();
      },
      onSpeechStopped: () => {
        this.turns!.onSpeechStopped();
        this.speechStoppedAt = performance.now();
      },
      onResponseStarted: (responseId) => this.turns!.onResponseStarted(responseId),
      onResponseDone: (done) => {
        // Before the turn ends: a hang-up after this response waits for the echo of its last mark.
        const endMark = this.lifecycle === 'live' ? this.playback.endMark() : null;
        if (endMark !== null) this.stream.sendMark(endMark);
        if (done.usage)
          this.publish({ type: 'usage', responseId: done.responseId, status: done.status, model: this.model, engine: this.engine, ...done.usage });
        this.turns!.onResponseDone(done);
      },
      // Also while ending: a closing session's final count belongs to this call.
      onUsage: (report) =>
        this.publish({ type: 'usage', responseId: report.id, status: report.status, model: report.model, engine: this.engine, ...report.usage }),
      onToolCall: (call) => this.turns!.onToolCall(call),
      onRequestRefused: (ref) => this.turns!.onRequestRefused(ref),
      // Capped: a service (or a proxy) sending megabytes of text must not have them broadcast to every dashboard.
      onTranscriptDelta: (role, itemId, delta) => this.publish({ type: 'transcript.delta', role, itemId, delta: delta.slice(0, MAX_EVENT_TEXT) }),
      onTranscriptDone: (role, itemId, text) => this.publish({ type: 'transcript.done', role, itemId, text: text.slice(0, MAX_EVENT_TEXT) }),
      onError: (error) => {
        this.logger.warn(`model error: ${error.code ?? ''} ${error.message}`);
        this.publish({ type: 'error', source: 'model', message: error.message, code: error.code });
      },
      onStatus: (status) => this.publish(status),
      onOpen: () => this.turns!.onLinkOpen(),
      onLost: () => {
        // What was sent keeps playing (no audio is lost); the unfinished answer is asked for again.
        this.turns!.onLinkLost();
      },
      onFailed: (problem, detail) => {
        this.logger.error(`voice model unavailable: ${problem.message}${detail ? ` (${detail})` : ''}`);
        this.end('model-unavailable', problem.message);
      },
      onBackpressure: () => this.end('backpressure'),
      isQuiet: () => this.turns!.isQuiet(),
      onFault: (err) => this.failed(err),
    };
  }

  /** Hot path: assistant audio to the phone, with a mark after it, unless its answer was interrupted. */
  private forwardAudio(itemId: string, responseId: string, base64: string): void {
    if (this.lifecycle !== 'live') return;
    if (responseId === this.cutResponseId || this.cutItems.has(itemId)) {
      // Late audio of an answer the caller interrupted: never play it.
      this.lateDeltasDropped++;
      return;
    }
    const bytes = base64ByteLength(base64);
    const now = performance.now();
    const mark = this.playback.audioSent(itemId, bytes, now);
    this.outBytes += bytes;
    if (this.firstAudioMs === null) {
      this.firstAudioMs = Math.round(now - this.startedPerf);
      this.publish({ type: 'latency', kind: 'first_audio', ms: this.firstAudioMs });
    }
    if (this.speechStoppedAt !== null) {
      this.publish({ type: 'latency', kind: 'answer', ms: Math.round(now - this.speechStoppedAt) });
      this.speechStoppedAt = null;
    }
    this.turns!.onAudio();
    this.stream.sendAudio(base64, mark);
  }

  /** The caller started talking: stop playback at once and cut each queued item to what they heard. */
  private bargeIn(): void {
    const cuts = this.cutPlayback();
    if (cuts.length === 0 || this.lifecycle !== 'live') return;
    this.bargeIns++;
    const [first] = cuts;
    this.publish({
      type: 'barge_in',
      itemId: first.itemId,
      audioEndMs: first.audioEndMs,
      sentMs: Math.round(first.sentMs),
      items: cuts.length,
      cuts: cuts.map((c) => ({ itemId: c.itemId, audioEndMs: c.audioEndMs, sentMs: Math.round(c.sentMs) })),
    });
  }

  /** Clears the phone and truncates every item that was on it; returns the cuts. */
  private cutPlayback(): { itemId: string; audioEndMs: number; sentMs: number }[] {
    const cuts = this.playback.interrupt(performance.now());
    if (cuts.length === 0) return cuts;
    this.stream.clear();
    // The clear may have ended the call (backpressure): then there is nothing left to cut.
    if (this.lifecycle !== 'live') return [];
    this.cutItems = new Set(cuts.map((c) => c.itemId));
    const response = this.turns!.state;
    this.cutResponseId = response.kind === 'active' ? response.responseId : null;
    for (const cut of cuts) this.link!.truncate(cut.itemId, cut.audioEndMs, cut.sentMs);
    return cuts;
  }

  // ---- operator commands (from the dashboard) ----

  answerFunctionCall(callId: string, output: string): boolean {
    return this.lifecycle === 'live' && this.turns!.functionCalls.answer(callId, output);
  }

  reconfigure(patch: Partial<AgentSettings>): string | null {
    if (this.lifecycle !== 'live') return 'the call is not live';
    const tools = patch.enabledTools !== undefined ? offeredTools(this.deps.tools, patch.enabledTools) : undefined;
    const refused = this.link!.reconfigure(patch, tools);
    if (refused) return refused;
    if (tools) this.turns!.functionCalls.offer(toolNames(tools));
    return null;
  }
}

const STREAM_END_REASONS: Record<StreamEnd, CallEndReason> = {
  disconnected: 'twilio-disconnected',
  'protocol-error': 'protocol-error',
  backpressure: 'backpressure',
};

function closeCode(reason: CallEndReason): number {
  if (reason === 'model-unavailable' || reason === 'internal-error') return CloseCode.modelUnavailable;
  if (reason === 'protocol-error') return CloseCode.protocolError;
  return CloseCode.normal;
}

function toolNames(tools: ToolSchema[]): ReadonlySet<string> {
  return new Set(tools.map((t) => t.name ?? ''));
}
