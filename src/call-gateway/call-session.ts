import type { RealtimeServerEvent, ResponseAudioDeltaEvent, ResponseDoneEvent } from 'openai/resources/realtime/realtime';
import WebSocket from 'ws';
import type { AppConfig } from '../config/app-config';
import { backoffDelay, describeFailure, isFatalErrorEvent, isRetryable, type ModelFailure } from '../openai/model-failure';
import type { RealtimeConnection } from '../openai/realtime-connection';
import type { AgentSettings, SessionConfigService } from '../openai/session-config.service';
import type { ToolRegistry } from '../tools/tool-registry.service';
import { responseUsage, type CallEndReason, type CallEventBody, type CallEventBus } from './call-events';
import { CallLogger } from './call-logger';
import type { CallRegistry } from './call-registry.service';
import { ConversationLog } from './conversation-log';
import { FunctionCalls } from './function-calls';
import { PlaybackTracker } from './playback-tracker';
import { base64ByteLength, parseTwilioMessage, type TwilioDtmf, type TwilioStart } from './twilio-messages';

export interface CallSessionDeps {
  config: AppConfig;
  events: CallEventBus;
  tools: ToolRegistry;
  registry: CallRegistry;
  sessionConfig: SessionConfigService;
}

/** WebSocket close codes we use on the Twilio socket. */
export const CloseCode = {
  normal: 1000,
  protocolError: 1008,
  modelUnavailable: 1011,
  tryAgainLater: 1013,
} as const;

/** Too many invalid frames from one socket means it is not Twilio (or Twilio is broken): hang up. */
const MAX_BAD_FRAMES = 100;
/** Sockets buffering more than this are not keeping up with real-time audio. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** If goodbye marks never come back, hang up anyway. */
const HANGUP_GRACE_MS = 20_000;
/** How often a pending session rollover looks for a pause in the conversation. */
const ROLLOVER_CHECK_MS = 100;

type State = 'awaiting-start' | 'live' | 'ended';

interface Reconnect {
  attempt: number;
  startedAt: number;
  timer: NodeJS.Timeout | undefined;
  /** gapFramesDropped when this outage began. */
  droppedBefore: number;
}

/**
 * One phone call: the Twilio media socket on one side, one Realtime connection on the other
 * (replaced transparently on failure or before the session's time limit).
 * A plain class (made by CallSessionFactory), so every call has its own state and nothing is shared.
 */
export class CallSession {
  private readonly logger = new CallLogger('CallSession', this);
  private state: State = 'awaiting-start';
  callSid = '';
  streamSid = '';
  from: string | null = null;
  to: string | null = null;
  direction: string | null = null;
  readonly startedAt = Date.now();
  lastMediaAt = Date.now();
  framesIn = 0;
  framesOut = 0;
  badFrames = 0;
  lateDeltasDropped = 0;
  /** Caller frames that did not fit the reconnect buffer. */
  gapFramesDropped = 0;
  /** Milliseconds from the media socket's opening to the first audio sent to the caller; set once per call. */
  firstAudioMs: number | null = null;
  endReason: CallEndReason | null = null;

  private settings: AgentSettings | undefined;
  private model: RealtimeConnection | null = null;
  private modelConfigured = false;
  /** A model connection was open at some point: a later open is a reconnect. */
  private modelWasOpen = false;
  private reconnect: Reconnect | null = null;
  /** Caller audio held while the model is away (bounded; oldest dropped first). */
  private gapAudio: string[] = [];
  private readonly maxGapFrames: number;
  private nextModel: RealtimeConnection | null = null;
  private rolloverTimer: NodeJS.Timeout | undefined;
  private readonly conversation = new ConversationLog();
  private readonly tracker = new PlaybackTracker();
  private readonly abort = new AbortController();
  private readonly functionCalls: FunctionCalls;
  private mediaPrefix = '';
  private markPrefix = '';
  private clearMessage = '';
  private startTimer: NodeJS.Timeout | undefined;
  private hangupTimer: NodeJS.Timeout | undefined;
  private readonly badFrameKinds = new Set<string>();

  // Response state, for barge-in, tool calls, end_call and rollover.
  private responseId: string | null = null;
  private responseActive = false;
  private awaitingResponse = false;
  private responseHadAudio = false;
  private callerSpeaking = false;
  private interruptedItemId: string | null = null;
  private interruptedResponseId: string | null = null;
  /** Outputs were recorded while the model was away: ask for a response once it is back. */
  private responseOwed = false;
  private owedInstructions: string | undefined;
  private hangupRequested = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: CallSessionDeps,
  ) {
    this.maxGapFrames = Math.ceil(deps.config.RECONNECT_AUDIO_BUFFER_MS / 20);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getter below reads the sid once `start` set it
    const session = this;
    this.functionCalls = new FunctionCalls(
      deps.tools,
      {
        get callSid() {
          return session.callSid; // known once `start` arrives, before any function call can
        },
        signal: this.abort.signal,
        requestHangup: () => this.requestHangup(),
      },
      (body) => this.publish(body),
    );
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        this.onTwilioFrame(data, isBinary);
      } catch (err) {
        this.failed(err);
      }
    });
    socket.on('close', () => this.end('twilio-disconnected'));
    socket.on('error', (err) => this.logger.warn(`Twilio socket error on ${this.callSid || 'unstarted stream'}: ${err.message}`));
    this.startTimer = setTimeout(() => this.protocolError('no start message'), deps.config.STREAM_START_TIMEOUT_MS);
  }

  /** The model side is usable or being restored; false means the call has lost its model for good. */
  get modelAlive(): boolean {
    return this.reconnect !== null || (this.model !== null && !this.model.isClosed);
  }

  // ---- Twilio → us --------------------------------------------------------------------------

  private onTwilioFrame(data: Buffer, isBinary: boolean): void {
    if (isBinary) return this.badFrame('invalid-shape');
    const msg = parseTwilioMessage(data.toString());
    if (typeof msg === 'string') return this.badFrame(msg);
    switch (msg.event) {
      case 'media':
        // The hot path: one parse above, one write here.
        if (this.state !== 'live' || msg.streamSid !== this.streamSid) {
          // Frames still in flight after the call ended are not the sender's fault.
          return this.state === 'ended' ? undefined : this.badFrame('media-outside-stream');
        }
        this.framesIn++;
        this.lastMediaAt = Date.now();
        if (this.reconnect) return this.holdAudio(msg.media.payload);
        this.model!.appendAudio(msg.media.payload);
        if ((this.framesIn & 63) === 0 && this.model!.bufferedAmount > MAX_BUFFERED_BYTES) this.end('backpressure');
        return;
      case 'mark':
        if (this.tracker.markEchoed(msg.mark.name, performance.now())) this.maybeHangUp();
        return;
      case 'start':
        return this.onStart(msg);
      case 'dtmf':
        return this.onDtmf(msg);
      case 'stop':
        return this.end('caller-hung-up');
      case 'connected':
        return;
    }
  }

  private onStart(msg: TwilioStart): void {
    if (this.state !== 'awaiting-start') return this.badFrame('duplicate-start');
    clearTimeout(this.startTimer);
    const { start } = msg;
    const params = start.customParameters ?? {};
    this.callSid = start.callSid || params.callSid || '';
    this.streamSid = start.streamSid;
    this.from = params.from ?? null;
    this.to = params.to ?? null;
    this.direction = params.direction ?? null;
    if (!this.callSid) return this.protocolError('start without callSid');

    const { registry, config } = this.deps;
    const claimed = registry.claim(this.callSid, params.streamToken);
    if (claimed === 'bad-token' || (claimed === 'missing' && !config.ALLOW_UNRESERVED_STREAMS)) {
      // A stream URL is public; only streams for calls this server answered may spend the API key.
      return this.protocolError(claimed === 'bad-token' ? 'invalid stream token' : 'no reservation for this call');
    }
    const reserved = typeof claimed === 'object';
    const admission = registry.admit(this, reserved);
    if (admission !== 'ok') {
      if (reserved) claimed.connection.close(1000, 'stream refused');
      this.state = 'ended';
      this.logger.warn(`refusing stream for ${this.callSid}: ${admission}`);
      this.socket.close(CloseCode.tryAgainLater, admission);
      return;
    }
    this.state = 'live';
    const sid = JSON.stringify(this.streamSid);
    this.mediaPrefix = '{"event":"media","streamSid":' + sid + ',"media":{"payload":';
    this.markPrefix = '{"event":"mark","streamSid":' + sid + ',"mark":{"name":';
    this.clearMessage = '{"event":"clear","streamSid":' + sid + '}';
    this.publish({
      type: 'call.started',
      streamSid: this.streamSid,
      from: this.from,
      to: this.to,
      direction: this.direction,
      startedAt: new Date(this.startedAt).toISOString(),
      engine: 'realtime',
      model: config.OPENAI_MODEL,
      voice: (reserved ? claimed.settings : this.deps.sessionConfig.current).voice,
    });
    this.logger.log(`call ${this.callSid} started (stream ${this.streamSid})`);

    if (reserved) {
      this.settings = claimed.settings;
      this.useModel(claimed.connection);
    } else {
      // Fixed for the whole call, so a reconnect or rollover restores exactly this configuration.
      this.settings = this.deps.sessionConfig.current;
      this.publish({ type: 'model.status', status: 'connecting' });
      this.dialModel();
    }
    if (this.state !== 'live') return;
    const greeting = config.AGENT_GREETING;
    if (greeting) this.requestResponse(greeting);
  }

  private onDtmf(msg: TwilioDtmf): void {
    if (this.state !== 'live') return this.badFrame('dtmf-before-start');
    const digit = msg.dtmf.digit;
    const text = `[The caller pressed the "${digit}" key on the phone keypad.]`;
    if (this.reconnect) this.conversation.addLocal({ kind: 'user', text });
    else this.model!.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
    this.publish({ type: 'dtmf', digit });
  }

  private badFrame(kind: string): void {
    this.badFrames++;
    if (!this.badFrameKinds.has(kind)) {
      // Logged once per kind per call: a flood of bad frames must not become a flood of log lines.
      this.badFrameKinds.add(kind);
      this.logger.warn(`dropped invalid Twilio frame (${kind}) on ${this.callSid || 'unstarted stream'}`);
    }
    if (this.badFrames >= MAX_BAD_FRAMES) this.protocolError(`too many invalid frames (${this.badFrames})`);
  }

  private protocolError(why: string): void {
    if (this.state === 'ended') return;
    this.logger.warn(`closing Twilio socket${this.callSid ? ` for ${this.callSid}` : ''}: ${why}`);
    if (this.state === 'awaiting-start') {
      this.state = 'ended';
      clearTimeout(this.startTimer);
      this.socket.close(CloseCode.protocolError, why.slice(0, 120));
      return;
    }
    this.end('protocol-error');
  }

  // ---- the model connection ------------------------------------------------------------------

  /** Opens a new connection with this call's settings; until it is open, caller audio is held. */
  private dialModel(): void {
    let connection: RealtimeConnection;
    try {
      connection = this.deps.registry.dial(this.callSid, this.settings);
    } catch (err) {
      this.logger.error(`cannot dial the model for ${this.callSid}: ${(err as Error).message}`);
      this.publish({ type: 'model.status', status: 'failed', detail: (err as Error).message });
      this.end('model-unavailable');
      return;
    }
    this.reconnect ??= { attempt: 0, startedAt: Date.now(), timer: undefined, droppedBefore: this.gapFramesDropped };
    this.useModel(connection);
  }

  private useModel(connection: RealtimeConnection): void {
    this.model = connection;
    this.modelConfigured = false;
    connection.attach({
      onEvent: (event) => {
        if (connection !== this.model) return;
        try {
          this.onModelEvent(event);
        } catch (err) {
          this.failed(err);
        }
      },
      onOpen: () => {
        if (connection === this.model) this.onModelOpen(connection);
      },
      onClose: (failure) => this.onModelClosed(connection, failure),
    });
  }

  private onModelOpen(connection: RealtimeConnection): void {
    this.scheduleRollover(connection);
    const isReconnect = this.modelWasOpen;
    this.modelWasOpen = true;
    const reconnect = this.reconnect;
    if (!reconnect) return;
    // Context first, then what the caller said meanwhile, then (if owed) a response: the
    // service processes events in order, and session.update was queued before all of them.
    clearTimeout(reconnect.timer);
    this.reconnect = null;
    for (const item of this.conversation.replayItems()) connection.send({ type: 'conversation.item.create', item });
    const held = this.gapAudio;
    this.gapAudio = [];
    for (const payload of held) connection.appendAudio(payload);
    if (this.responseOwed) {
      this.responseOwed = false;
      this.requestResponse(this.owedInstructions);
      this.owedInstructions = undefined;
    }
    if (!isReconnect) return; // a first connection is announced when its session.updated arrives
    this.modelConfigured = true;
    const reconnectMs = Date.now() - reconnect.startedAt;
    const dropped = this.gapFramesDropped - reconnect.droppedBefore;
    this.logger.log(`model for ${this.callSid} reconnected after ${reconnectMs} ms (${held.length} frames held, ${dropped} dropped)`);
    this.publish({ type: 'model.status', status: 'connected', reconnectMs, attempt: reconnect.attempt + 1, heldFrames: held.length, droppedFrames: dropped });
  }

  private onModelClosed(connection: RealtimeConnection, failure: ModelFailure): void {
    if (connection === this.nextModel) {
      this.nextModel = null; // the rollover will try again later
      return;
    }
    if (connection !== this.model || this.state !== 'live') return;
    const detail = failure.httpStatus ? `HTTP ${failure.httpStatus}` : `${failure.code} ${failure.lastError?.code ?? failure.reason}`.trim();
    if (!isRetryable(failure)) {
      const problem = describeFailure(failure);
      this.logger.error(`model for ${this.callSid} failed and will not be retried: ${problem.message} (${detail})`);
      this.publish({ type: 'model.status', status: 'failed', detail, problem });
      this.end('model-unavailable');
      return;
    }
    this.model = null;
    this.forgetResponse();
    const attempt = this.reconnect ? this.reconnect.attempt + 1 : 0;
    if (attempt >= this.deps.config.MODEL_RECONNECT_MAX_ATTEMPTS) {
      this.logger.error(`model for ${this.callSid} unreachable after ${attempt} attempts (${detail})`);
      this.publish({ type: 'model.status', status: 'failed', detail: `gave up after ${attempt} attempts: ${detail}` });
      this.end('model-unavailable');
      return;
    }
    const { MODEL_RECONNECT_BASE_DELAY_MS: base, MODEL_RECONNECT_MAX_DELAY_MS: max } = this.deps.config;
    const delay = backoffDelay(attempt, base, max);
    this.reconnect = {
      attempt,
      startedAt: this.reconnect?.startedAt ?? Date.now(),
      timer: undefined,
      droppedBefore: this.reconnect?.droppedBefore ?? this.gapFramesDropped,
    };
    this.reconnect.timer = setTimeout(() => this.dialModel(), delay);
    this.logger.warn(`model for ${this.callSid} lost (${detail}); reconnecting in ${delay} ms (attempt ${attempt + 1})`);
    this.publish({ type: 'model.status', status: 'reconnecting', attempt: attempt + 1, detail });
  }

  /** The response in flight died with its connection: stop its audio on the phone and forget it. */
  private forgetResponse(): void {
    if (this.tracker.currentItemId !== null) {
      if (this.tracker.isPlaying(performance.now())) this.sendToTwilio(this.clearMessage);
      this.tracker.reset(performance.now());
    }
    this.responseActive = false;
    this.awaitingResponse = false;
    this.callerSpeaking = false;
  }

  private holdAudio(payload: string): void {
    if (this.gapAudio.length >= this.maxGapFrames) {
      this.gapAudio.shift();
      this.gapFramesDropped++;
    }
    this.gapAudio.push(payload);
  }

  // ---- session rollover ----------------------------------------------------------------------

  /** Sessions have a maximum duration: prepare the next one in time to switch during a pause. */
  private scheduleRollover(connection: RealtimeConnection): void {
    clearTimeout(this.rolloverTimer);
    const maxMs = this.deps.config.MODEL_SESSION_MAX_S * 1000;
    const age = Date.now() - (connection.openedAtMs || Date.now());
    const startIn = Math.max(0, maxMs - Math.min(300_000, maxMs * 0.2) - age);
    this.rolloverTimer = setTimeout(() => this.prepareRollover(), startIn);
  }

  private prepareRollover(): void {
    if (this.state !== 'live') return;
    if (!this.nextModel && !this.reconnect) {
      try {
        this.nextModel = this.deps.registry.dial(this.callSid, this.settings);
        const next = this.nextModel;
        next.attach({ onEvent: () => undefined, onClose: (failure) => this.onModelClosed(next, failure) });
      } catch {
        this.nextModel = null;
      }
    }
    this.rolloverTimer = setTimeout(() => this.tryRollover(), ROLLOVER_CHECK_MS);
  }

  /** Switch to the prepared session at a turn boundary: nobody speaking, nothing pending. */
  private tryRollover(): void {
    if (this.state !== 'live') return;
    const next = this.nextModel;
    const quiet =
      !this.reconnect &&
      !this.responseActive &&
      !this.awaitingResponse &&
      this.functionCalls.running === 0 &&
      !this.callerSpeaking &&
      !this.tracker.isPlaying(performance.now());
    if (!next || !next.isOpen || !quiet) {
      this.rolloverTimer = setTimeout(() => (next ? this.tryRollover() : this.prepareRollover()), ROLLOVER_CHECK_MS);
      return;
    }
    const old = this.model;
    this.nextModel = null;
    for (const item of this.conversation.replayItems()) next.send({ type: 'conversation.item.create', item });
    this.useModel(next);
    this.modelConfigured = true;
    old?.close(1000, 'session rollover');
    this.scheduleRollover(next);
    this.logger.log(`model session for ${this.callSid} rolled over`);
    this.publish({ type: 'model.status', status: 'connected', detail: 'session rollover' });
  }

  // ---- OpenAI → us --------------------------------------------------------------------------

  private onModelEvent(event: RealtimeServerEvent): void {
    if (this.state !== 'live') return;
    if (event.type === 'response.output_audio.delta') return this.forwardAudio(event);
    this.conversation.observe(event);
    switch (event.type) {
      case 'input_audio_buffer.speech_started':
        this.callerSpeaking = true;
        return this.bargeIn();
      case 'input_audio_buffer.speech_stopped':
        this.callerSpeaking = false;
        return;
      case 'response.created':
        this.responseId = event.response.id ?? null;
        this.responseActive = true;
        this.awaitingResponse = false;
        this.responseHadAudio = false;
        return;
      case 'response.output_item.done':
        if (event.item.type === 'function_call') this.functionCalls.start(event.item);
        return;
      case 'response.done':
        return void this.onResponseDone(event).catch((err: unknown) => this.failed(err));
      case 'response.output_audio_transcript.delta':
        return this.publish({ type: 'transcript.delta', role: 'assistant', itemId: event.item_id, delta: event.delta });
      case 'response.output_audio_transcript.done':
        return this.publish({ type: 'transcript.done', role: 'assistant', itemId: event.item_id, text: event.transcript });
      case 'conversation.item.input_audio_transcription.delta':
        return this.publish({ type: 'transcript.delta', role: 'user', itemId: event.item_id, delta: event.delta ?? '' });
      case 'conversation.item.input_audio_transcription.completed':
        return this.publish({ type: 'transcript.done', role: 'user', itemId: event.item_id, text: event.transcript });
      case 'session.updated':
        if (!this.modelConfigured) {
          this.modelConfigured = true;
          this.publish({ type: 'model.status', status: 'connected', connectMs: this.model?.connectMs ?? undefined });
        }
        return;
      case 'error':
        return this.onModelError(event.error);
    }
  }

  private onModelError(error: { type: string; code?: string | null; message: string }): void {
    this.logger.warn(`model error on ${this.callSid}: ${error.type} ${error.code ?? ''} ${error.message}`);
    this.publish({ type: 'error', source: 'model', message: error.message, code: error.code ?? error.type });
    if (isFatalErrorEvent(error)) {
      this.publish({ type: 'model.status', status: 'failed', detail: error.code ?? error.type });
      this.end('model-unavailable');
    }
  }

  private forwardAudio(event: ResponseAudioDeltaEvent): void {
    if (event.item_id === this.interruptedItemId || event.response_id === this.interruptedResponseId) {
      // Late audio of a response the caller interrupted: never play it.
      this.lateDeltasDropped++;
      return;
    }
    const delta = event.delta;
    if (typeof delta !== 'string' || delta.length === 0) return;
    const mark = this.tracker.audioSent(event.item_id, base64ByteLength(delta), performance.now());
    this.responseHadAudio = true;
    if (this.framesOut++ === 0) this.firstAudioMs = Date.now() - this.startedAt;
    // One write for the media and its mark instead of two: socket writes are most of the relay's
    // CPU (bench: -7% server CPU at 200 calls). ws has no public batching, hence its socket.
    const raw = (this.socket as unknown as { _socket?: { cork?(): void; uncork?(): void } })._socket;
    raw?.cork?.();
    this.sendToTwilio(this.mediaPrefix + JSON.stringify(delta) + '}}');
    this.sendToTwilio(this.markPrefix + JSON.stringify(mark) + '}}');
    raw?.uncork?.();
  }

  /** The caller started talking: stop playback at once and cut the item to what they heard. */
  private bargeIn(): void {
    const cut = this.tracker.interrupt(performance.now());
    if (!cut) return;
    this.sendToTwilio(this.clearMessage);
    this.interruptedItemId = cut.itemId;
    if (this.responseActive) this.interruptedResponseId = this.responseId;
    this.model!.send({ type: 'conversation.item.truncate', item_id: cut.itemId, content_index: 0, audio_end_ms: cut.audioEndMs });
    this.publish({ type: 'barge_in', itemId: cut.itemId, audioEndMs: cut.audioEndMs, sentMs: Math.round(cut.sentMs) });
  }

  private async onResponseDone(event: ResponseDoneEvent): Promise<void> {
    const response = event.response;
    this.responseActive = false;
    if (response.usage)
      this.publish({
        type: 'usage',
        responseId: response.id ?? '',
        status: response.status ?? 'unknown',
        model: this.deps.config.OPENAI_MODEL,
        ...responseUsage(response.usage),
      });
    for (const item of response.output ?? []) {
      if (item.type === 'function_call') this.functionCalls.start(item);
    }
    if (!this.functionCalls.hasPending) return this.maybeHangUp();

    const hadAudio = this.responseHadAudio;
    const results = await this.functionCalls.collect();
    if (this.state !== 'live') return;
    for (const { callId, result } of results) {
      if (this.reconnect) this.conversation.addLocal({ kind: 'function_call_output', callId, output: result.output });
      else this.model!.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: callId, output: result.output } });
    }
    // end_call after a spoken goodbye: nothing more to say, hang up when it has played.
    if (this.hangupRequested && hadAudio) return this.maybeHangUp();
    if (this.reconnect) this.responseOwed = true;
    else this.requestResponse();
  }

  private requestResponse(instructions?: string): void {
    if (!this.model) {
      // The model is away (reconnecting): ask once it is back, after the context is restored.
      this.responseOwed = true;
      this.owedInstructions = instructions;
      return;
    }
    this.awaitingResponse = true;
    this.model.send(instructions ? { type: 'response.create', response: { instructions } } : { type: 'response.create' });
  }

  // ---- end_call -----------------------------------------------------------------------------

  private requestHangup(): void {
    if (this.hangupRequested) return;
    this.hangupRequested = true;
    this.hangupTimer = setTimeout(() => this.end('agent-ended'), HANGUP_GRACE_MS);
  }

  /** Hang up once the goodbye is over: no response running or due, no tool running, every mark echoed. */
  private maybeHangUp(): void {
    if (!this.hangupRequested || this.state !== 'live') return;
    if (this.responseActive || this.awaitingResponse || this.functionCalls.running > 0) return;
    if (this.tracker.pendingMarks > 0) return;
    this.end('agent-ended');
  }

  // ---- operator commands (from the dashboard) ----------------------------------------------

  /**
   * Settles a running function call with `output` (a JSON string) instead of waiting for its tool,
   * which is aborted. False when no such call is running.
   */
  answerFunctionCall(callId: string, output: string): boolean {
    return this.state === 'live' && this.functionCalls.answer(callId, output);
  }

  /** Changes this call's agent settings now. Returns why it cannot, or null once applied. */
  reconfigure(patch: Partial<AgentSettings>): string | null {
    if (this.state !== 'live') return 'the call is not live';
    // The Realtime API refuses a new voice once the model has produced audio in the session.
    if (patch.voice !== undefined && (this.framesOut > 0 || this.lateDeltasDropped > 0)) {
      return 'the voice cannot change once the assistant has spoken';
    }
    // Kept for the call's later connections (reconnect, rollover), which dial with this.settings;
    // a session already prepared for a rollover gets the update too.
    this.settings = { ...(this.settings ?? this.deps.sessionConfig.current), ...patch };
    const update = this.deps.sessionConfig.liveUpdate(patch, this.deps.tools.schemas());
    this.model?.send(update);
    this.nextModel?.send(update);
    return null;
  }

  // ---- plumbing -----------------------------------------------------------------------------

  /** A bug handling one message ends this call cleanly (the caller hears the apology); other calls and the process go on. */
  private failed(err: unknown): void {
    this.logger.error(`internal error, ending the call: ${(err as Error)?.stack ?? String(err)}`);
    this.end('internal-error');
  }

  private sendToTwilio(message: string): void {
    const socket = this.socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) return this.end('backpressure');
    socket.send(message);
  }

  private publish(body: CallEventBody): void {
    this.deps.events.publish(this.callSid, body);
  }

  /** Ends the call and releases everything it holds. Safe to call more than once. */
  end(reason: CallEndReason): void {
    if (this.state === 'ended') return;
    const wasLive = this.state === 'live';
    this.state = 'ended';
    this.endReason = reason;
    clearTimeout(this.startTimer);
    clearTimeout(this.hangupTimer);
    clearTimeout(this.rolloverTimer);
    clearTimeout(this.reconnect?.timer);
    this.reconnect = null;
    this.gapAudio = [];
    this.abort.abort();
    this.model?.close(1000, 'call ended');
    this.nextModel?.close(1000, 'call ended');
    this.model = this.nextModel = null;
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      const code =
        reason === 'model-unavailable' || reason === 'internal-error'
          ? CloseCode.modelUnavailable
          : reason === 'protocol-error'
            ? CloseCode.protocolError
            : CloseCode.normal;
      this.socket.close(code, reason);
    }
    if (!wasLive) return;
    this.deps.registry.release(this);
    const durationMs = Date.now() - this.startedAt;
    this.publish({
      type: 'call.ended',
      reason,
      durationMs,
      framesIn: this.framesIn,
      framesOut: this.framesOut,
      badFrames: this.badFrames,
      lateDeltasDropped: this.lateDeltasDropped,
      firstAudioMs: this.firstAudioMs,
      bargeIns: 0,
      reconnects: 0,
    });
    this.logger.log(`call ${this.callSid} ended: ${reason} after ${Math.round(durationMs / 1000)} s (${this.framesIn} frames in, ${this.framesOut} out)`);
  }
}
