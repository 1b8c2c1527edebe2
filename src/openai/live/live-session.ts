import { Logger } from '@nestjs/common';
import type { ClientEvent, ServerEvent, SessionClosedEvent, SessionStartEvent, SessionStartedEvent } from 'openai/resources/live/live';
import { randomBytes } from 'node:crypto';
import WebSocket, { type RawData } from 'ws';
import type { AppConfig } from '../../config/app-config';
import { isFatalErrorEvent, type ModelFailure } from '../model-failure';
import type { AgentSettings } from '../session-config.service';
import type { ContextItem, EngineApi, ResponseRequest, SessionSpec, ToolSchema, VoiceSession, VoiceSessionListener } from '../voice-engine';
import { parseWireEvent } from '../wire-event';
import { LiveConversation } from './live-conversation';
import { liveBackendUpdate, liveSessionStart, MAX_APPEND_CHARS } from './live-session-config';

/** GPT-Live as it names itself in a problem, with the variables that configure it. */
export const LIVE_API: EngineApi = {
  name: 'GPT-Live',
  urlVar: 'OPENAI_LIVE_URL',
  modelVar: 'OPENAI_LIVE_MODEL',
  settingVars: 'LIVE_DELEGATION, LIVE_RESPONSES_MODEL and LIVE_REASONING_EFFORT',
};

/** Commands queued between session.start and session.started (nothing else may be sent before it). */
export const MAX_QUEUED = 100;
/** Events kept for a listener that has not attached yet (a pre-dialled session waits for its stream). */
const MAX_EARLY_EVENTS = 100;
/** No legitimate event is near this; a bigger frame is refused by ws before it is parsed. */
export const LIVE_MAX_PAYLOAD = 1024 * 1024;
/** After session.close, how long to wait for session.closed (the final usage) before closing the socket anyway. */
export const CLOSE_WAIT_MS = 1000;
/**
 * The next session is prepared this long before expires_at (at most 20% of a session's life).
 * Every open GPT-Live session bills by the second, so the overlap is kept short; a pause in the
 * conversation comes within seconds on a phone call.
 */
export const LIVE_ROLLOVER_LEAD_MS = 30_000;

export interface LiveSessionOptions {
  url: string;
  apiKey: string;
  handshakeTimeoutMs: number;
}

/** The socket's side of a session: one state, changed in moveTo only. */
type LiveState =
  | { kind: 'connecting' }
  /** session.start sent; nothing else may go out until session.started. */
  | { kind: 'starting' }
  | { kind: 'started'; id: string }
  /** session.close sent; waiting (briefly) for session.closed and its final usage. */
  | { kind: 'closing'; done: (() => void)[]; timer: NodeJS.Timeout }
  | { kind: 'closed' };

/**
 * One WebSocket to GPT-Live for one call, speaking the VoiceSession seam. session.start is the
 * first message (built when the socket opens, so it carries the conversation as it is then), and
 * nothing else is sent before session.started. Like the Realtime session it can be opened before
 * anyone listens (pre-dial): early events are kept and replayed on attach. The conversation's
 * meaning (turns, responses, tools, usage) lives in LiveConversation; this class owns the socket.
 */
export class LiveSession implements VoiceSession {
  readonly engine = 'live' as const;
  readonly model: string;
  readonly api = LIVE_API;
  readonly dialedAt = performance.now();
  readonly rolloverLeadMs = LIVE_ROLLOVER_LEAD_MS;
  private readonly logger = new Logger('LiveSession');
  private readonly socket: WebSocket;
  private state: LiveState = { kind: 'connecting' };
  private listener: VoiceSessionListener | null = null;
  private conversation: LiveConversation | null = null;
  private early: ServerEvent[] = [];
  private queue: string[] = [];
  private openedAt = 0;
  private isReady = false;
  private expires: number | null = null;
  private failure: ModelFailure | null = null;
  private lastError: { type?: string; code?: string | null } | undefined;
  private awaitingPong = false;
  /** History items session.start carried. */
  private known = new Set<string>();
  private readonly idPrefix = `live${randomBytes(4).toString('hex')}`;
  private dropped = 0;
  private malformed = 0;
  private updates = 0;

  constructor(
    private readonly spec: SessionSpec,
    private readonly config: AppConfig,
    options: LiveSessionOptions,
  ) {
    this.model = config.OPENAI_LIVE_MODEL;
    // No query string: the model travels in session.start.
    this.socket = new WebSocket(options.url, {
      headers: { Authorization: `Bearer ${options.apiKey}` },
      handshakeTimeout: options.handshakeTimeoutMs,
      perMessageDeflate: false,
      maxPayload: LIVE_MAX_PAYLOAD,
    });
    this.bindSocket();
  }

  get ready(): boolean {
    return this.isReady;
  }

  get closed(): boolean {
    return this.state.kind === 'closed' || this.state.kind === 'closing';
  }

  get connectMs(): number | null {
    return this.openedAt ? Math.round(this.openedAt - this.dialedAt) : null;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  get expiresAt(): number | null {
    return this.expires;
  }

  attach(listener: VoiceSessionListener): void {
    this.listener = listener;
    const early = this.early;
    this.early = [];
    for (const event of early) {
      if (this.listener !== listener) return; // a handler closed the session and detached
      this.dispatch(event, listener);
    }
    if (this.failure && this.state.kind === 'closed') listener.onClosed(this.failure);
  }

  appendAudio(base64: string): void {
    const conversation = this.conversation;
    // Audio before session.started is refused by the service: the link holds it until onReady.
    if (conversation === null || this.state.kind !== 'started') {
      this.dropped++;
      return;
    }
    conversation.callerAudio(base64);
    // Base64 from the Twilio parser is already validated, so it can be spliced in as is.
    this.socket.send('{"type":"session.input_audio.append","audio":"' + base64 + '"}');
  }

  requestResponse(request: ResponseRequest): void {
    this.conversation?.request(request);
  }

  truncate(itemId: string, audioEndMs: number): void {
    // GPT-Live has no truncation: the model stopped by itself; what the caller heard is kept for replays.
    this.conversation?.cut(itemId, audioEndMs);
  }

  sendToolResult(callId: string, output: string): void {
    this.conversation?.toolResult(callId, output);
  }

  addContext(items: readonly ContextItem[]): void {
    if (this.conversation) return this.conversation.context(items);
    // Before start: session.start will read the whole conversation (spec.context) when it goes out.
  }

  /**
   * What GPT-Live can change mid-session. The Live model's instructions cannot be replaced, only
   * appended to (session.instructions.append, 500 tokens at most); its model, voice and audio are
   * fixed at start, and it has no turn-detection setting (ignored). With Responses delegation the
   * backend's instructions and tools are replaced (one session.update), so the backend follows
   * the same new instructions as the voice model.
   */
  reconfigure(patch: Partial<AgentSettings>, tools: ToolSchema[] | undefined): string | null {
    const current = this.spec.settings;
    // Not started yet: session.start will carry the new settings (the link updates them after this).
    const pending = this.state.kind === 'connecting';
    if (patch.voice !== undefined && patch.voice !== current.voice) return 'GPT-Live fixes the voice when the session starts: it cannot change during the call';
    const instructions = patch.instructions !== undefined && patch.instructions !== current.instructions ? patch.instructions : undefined;
    const note =
      instructions === undefined ? '' : `The operator changed your instructions. From now on, follow these instead of the earlier ones:\n${instructions}`;
    // Refused whole: a backend on new instructions behind a voice model on the old ones would contradict it.
    if (note.length > MAX_APPEND_CHARS) {
      return `GPT-Live can only append instructions during a call (at most ${MAX_APPEND_CHARS} characters); save longer ones for new calls`;
    }
    if (pending) return null;
    // Client delegation has no backend: tools are accepted with nothing to send, instructions only appended.
    if (this.config.LIVE_DELEGATION === 'responses' && (tools !== undefined || instructions !== undefined)) {
      this.sendEvent(liveBackendUpdate({ instructions, tools }, `update_${++this.updates}`));
    }
    if (note) this.sendEvent({ type: 'session.instructions.append', delegation_id: null, content: note });
    return null;
  }

  heartbeat(): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return true; // not open yet: the confirmation timeout watches that
    if (this.awaitingPong) return false;
    this.awaitingPong = true;
    this.socket.ping();
    return true;
  }

  abandon(reason: string): void {
    if (this.state.kind === 'closed') return;
    this.socket.terminate();
    this.finish({ code: 1006, reason, opened: this.openedAt > 0 }, true);
  }

  /**
   * Ends the session. A started one is asked to close (session.close) and given CLOSE_WAIT_MS to
   * answer with session.closed, whose final usage still reaches the listener; then `done`.
   */
  close(done?: () => void): void {
    const state = this.state;
    if (state.kind === 'closed') return done?.();
    if (state.kind === 'closing') {
      if (done) state.done.push(done);
      return;
    }
    if (state.kind === 'started' && this.socket.readyState === WebSocket.OPEN) {
      this.conversation?.close();
      this.socket.send(JSON.stringify({ type: 'session.close' } satisfies ClientEvent));
      const timer = setTimeout(() => this.finishClosing(), CLOSE_WAIT_MS);
      this.moveTo({ kind: 'closing', done: done ? [done] : [], timer });
      return;
    }
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000, 'call ended');
    else this.socket.terminate();
    this.finish({ code: 1000, reason: 'closed by us', opened: this.openedAt > 0 }, false);
    done?.();
  }

  // ---- state ----

  /** The one place the state changes; what belongs to the old state goes with it. */
  private moveTo(next: LiveState): void {
    const previous = this.state;
    if (previous.kind === 'closing') clearTimeout(previous.timer);
    this.state = next;
    if (next.kind === 'started') {
      const queued = this.queue;
      this.queue = [];
      for (const message of queued) this.socket.send(message);
    }
    if (next.kind === 'closed') {
      this.queue = [];
      this.early = [];
      this.conversation?.close();
      if (previous.kind === 'closing') for (const done of previous.done) done();
    }
  }

  private finishClosing(): void {
    if (this.state.kind !== 'closing') return;
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000, 'call ended');
    else this.socket.terminate();
    this.finish({ code: 1000, reason: 'closed by us', opened: true }, false);
  }

  // ---- socket ----

  private bindSocket(): void {
    const socket = this.socket;
    socket.once('open', () => {
      this.openedAt = performance.now();
      if (this.state.kind !== 'connecting') return;
      // Built now, not at dial time: a session dialled to replace a lost one starts with the conversation as it is.
      const { event, included } = liveSessionStart(this.config, this.spec.settings, this.spec.tools, this.spec.context?.() ?? []);
      this.known = included;
      socket.send(JSON.stringify(event satisfies SessionStartEvent));
      this.moveTo({ kind: 'starting' });
    });
    socket.on('message', (data: RawData, isBinary: boolean) => {
      try {
        this.receive(data, isBinary);
      } catch (err) {
        this.listener?.onFault(err);
      }
    });
    socket.on('pong', () => (this.awaitingPong = false));
    socket.on('unexpected-response', (_req, res) => {
      // Read the status for the log, never the body (it can echo request details).
      res.resume();
      socket.terminate();
      this.finish({ code: 1006, reason: `HTTP ${res.statusCode} from GPT-Live`, httpStatus: res.statusCode, opened: false }, true);
    });
    socket.on('error', (err) => this.finish({ code: 1006, reason: err.message, opened: this.openedAt > 0 }, true));
    socket.on('close', (code, reason) => {
      if (this.state.kind === 'closing') return this.finishClosing();
      this.finish({ code, reason: reason.toString(), opened: this.openedAt > 0 }, true);
    });
  }

  private sendEvent(event: ClientEvent): void {
    const message = JSON.stringify(event);
    if (this.state.kind === 'started') this.socket.send(message);
    else if ((this.state.kind === 'connecting' || this.state.kind === 'starting') && this.queue.length < MAX_QUEUED) this.queue.push(message);
    else this.dropped++;
  }

  private receive(data: RawData, isBinary: boolean): void {
    const event = parseWireEvent(data, isBinary);
    if (event === null) return this.malformedEvent('not a JSON event');
    const typed = event as ServerEvent;
    if (this.state.kind === 'closing') return this.whileClosing(typed);
    if (typed.type === 'session.started' && this.state.kind === 'starting') {
      const session = typed.session as Partial<SessionStartedEvent['session']> | undefined;
      if (!session || typeof session.id !== 'string') return this.malformedEvent('session.started without a session id');
      if (typeof session.expires_at === 'number' && Number.isFinite(session.expires_at)) this.expires = session.expires_at * 1000;
      this.moveTo({ kind: 'started', id: session.id });
    }
    if (typed.type === 'error' && typeof typed.error === 'object' && typed.error !== null) this.lastError = typed.error;
    const listener = this.listener;
    if (listener) this.dispatch(typed, listener);
    else if (this.early.length < MAX_EARLY_EVENTS) this.early.push(typed);
  }

  /** Only the final count matters once we asked to close. */
  private whileClosing(event: ServerEvent): void {
    if (event.type === 'session.usage.updated') this.conversation?.usage(event.usage);
    if (event.type !== 'session.closed') return;
    this.conversation?.usage(event.usage);
    this.finishClosing();
  }

  private dispatch(event: ServerEvent, listener: VoiceSessionListener): void {
    switch (event.type) {
      case 'session.started':
        if (this.isReady) return;
        this.isReady = true;
        this.conversation = new LiveConversation(
          {
            idPrefix: this.idPrefix,
            model: this.model,
            responsesModel: this.config.LIVE_RESPONSES_MODEL,
            delegation: this.config.LIVE_DELEGATION,
            silenceMs: this.config.VAD_SILENCE_DURATION_MS,
          },
          listener,
          (clientEvent) => this.sendEvent(clientEvent),
          this.known,
        );
        return listener.onReady();
      case 'session.closed':
        return this.closedByService(event);
      case 'error':
        if (!this.isReady) return this.startRefused(event.error, listener);
        break;
    }
    this.conversation?.handle(event, (why) => this.malformedEvent(why));
  }

  /**
   * An error before session.started: the service refused session.start (a field, the model, the
   * key). Dialling again would send the same configuration, so it is fatal for the call.
   */
  private startRefused(error: { type?: string; code?: string; message?: string; client_event_id?: string } | undefined, listener: VoiceSessionListener): void {
    const message = String(error?.message ?? 'session.start refused').slice(0, 500);
    // A refused field or value: the same start would be refused again. A server error is worth another try.
    const configRefused = error?.type === 'invalid_request_error' && !isFatalErrorEvent(error);
    const fatal = configRefused || (error !== undefined && isFatalErrorEvent(error));
    listener.onError({ message, code: error?.code ?? error?.type, fatal, configRefused });
  }

  /**
   * The service ended the session. `expired` (its time limit) and the connection-level reasons are
   * losses the link recovers from (a new session, the conversation replayed); `content` (a safety
   * stop) would stop again, so it is not retried.
   */
  private closedByService(event: SessionClosedEvent): void {
    this.conversation?.usage(event.usage);
    const reason = typeof event.reason === 'string' ? event.reason : 'unknown';
    const code = reason === 'content' ? 1008 : reason === 'expired' ? 1000 : 1001;
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(1000, 'session closed');
    this.finish({ code, reason: `session closed by GPT-Live (${reason})`, opened: true }, true);
  }

  private malformedEvent(why: string): void {
    // Logged once per session: a service (or a proxy) sending garbage must not flood the log.
    if (this.malformed++ === 0) this.logger.warn({ callSid: this.spec.callSid, why }, 'ignored a malformed GPT-Live event');
  }

  private finish(failure: ModelFailure, notify: boolean): void {
    if (this.state.kind === 'closed') return;
    const full: ModelFailure = { ...failure, lastError: failure.lastError ?? this.lastError, api: LIVE_API };
    this.failure = full;
    if (full.httpStatus !== undefined)
      this.logger.warn({ callSid: this.spec.callSid, status: full.httpStatus }, `GPT-Live refused the connection (HTTP ${full.httpStatus})`);
    else if (notify && full.code !== 1000) this.logger.debug({ callSid: this.spec.callSid, code: full.code, reason: full.reason }, 'GPT-Live socket closed');
    if (this.dropped > 0 || this.malformed > 0) {
      this.logger.warn(
        { callSid: this.spec.callSid, notSent: this.dropped, malformed: this.malformed },
        'GPT-Live session closed with messages not sent or malformed events ignored',
      );
    }
    this.moveTo({ kind: 'closed' });
    const listener = this.listener;
    this.listener = null;
    if (notify && listener) listener.onClosed(full);
  }
}
