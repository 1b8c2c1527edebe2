import { Logger } from '@nestjs/common';
import type { CallEventBody } from '../call-gateway/call-events';
import { ConversationLog } from './conversation-log';
import { backoffDelay, describeFailure, isRetryable, type ModelFailure, type ModelProblem } from './model-failure';
import type { AgentSettings } from './session-config.service';
import type { ResponseRequest, SessionSpec, ToolSchema, VoiceSession, VoiceSessionListener } from './voice-engine';

export interface ModelLinkOptions {
  /** Consecutive failed attempts before the call is given up. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Caller audio held while the model is away (frames of 20 ms); older audio is dropped and counted. */
  maxHeldFrames: number;
  /**
   * The service's session limit, for engines that do not say when a session ends: a fresh session
   * is prepared before it and switched to at a pause. A session's own `expiresAt` wins.
   */
  sessionMaxMs: number;
  /** A session must confirm its configuration within this long of being dialled. */
  confirmTimeoutMs: number;
  /** Heartbeat period: a ping unanswered by the next tick means the path is dead. */
  pingIntervalMs: number;
}

/**
 * What the link tells the call: the session's own events (except the lifecycle ones the link
 * handles itself), and the link's lifecycle.
 */
export interface ModelLinkListener extends Omit<VoiceSessionListener, 'onReady' | 'onClosed' | 'onConversationItem' | 'onItemHeard'> {
  /** A `model.status` worth publishing. */
  onStatus(status: Extract<CallEventBody, { type: 'model.status' }>): void;
  /** The model can take requests: the first time, and after every restore (context and held audio already sent). */
  onOpen(): void;
  /** The model went away: whatever response was in flight is gone. Caller audio is held meanwhile. */
  onLost(): void;
  /** The link gave up; the call cannot go on. `detail` is the technical cause (close code, HTTP status). */
  onFailed(problem: ModelProblem, detail: string | undefined): void;
  /** The model's socket is not keeping up with real-time audio. */
  onBackpressure(): void;
  /** Nobody is speaking and nothing is pending: a safe moment to switch sessions. */
  isQuiet(): boolean;
  /** A handler threw (a bug): the call ends, the process goes on. */
  onFault(err: unknown): void;
}

/** The link's one state. `connecting` covers the handshake and the wait for the configuration to be confirmed. */
export type LinkState =
  | { kind: 'idle' }
  | { kind: 'connecting'; session: VoiceSession }
  | { kind: 'open'; session: VoiceSession; readyAt: number }
  | { kind: 'reconnecting'; attempt: number; session: VoiceSession | null; lostAt: number; droppedBefore: number }
  | { kind: 'failed'; problem: ModelProblem }
  | { kind: 'closed' };

/** A session that stayed up this long was a success: later losses start counting attempts from zero. */
export const STABLE_MS = 10_000;
/** At most this many losses per call in RECONNECT_WINDOW_MS, however long each session lived. */
export const MAX_LOSSES_PER_WINDOW = 10;
export const RECONNECT_WINDOW_MS = 10 * 60_000;
/** Rollover: after this many refused standby dials, stop trying for ROLLOVER_PAUSE_MS. */
export const ROLLOVER_MAX_FAILURES = 3;
export const ROLLOVER_PAUSE_MS = 60_000;
/** How often a prepared rollover looks for a pause in the conversation. */
export const ROLLOVER_CHECK_MS = 100;
/** How long before a session's end the next one is prepared, unless its engine says otherwise (at most 20% of its life). */
export const DEFAULT_ROLLOVER_LEAD_MS = 300_000;
/** Model socket bytes queued beyond this: the call is not keeping up. */
export const MAX_MODEL_BUFFERED_BYTES = 1024 * 1024;

/**
 * One call's connection to the voice model, kept alive across failures: it dials (through the
 * OpenAI module's dialer), holds the caller's audio while the model is away, notices a dead path
 * by heartbeat, reconnects with backoff and restores the conversation, and moves to a fresh
 * session before the service's time limit, at a pause. The call sees a model that is open, lost,
 * or failed for good — never sockets.
 */
export class ModelLink {
  private readonly logger = new Logger('ModelLink');
  private state: LinkState;
  /** What every session of this call is dialled with; the conversation so far is read when a session starts. */
  private readonly spec: SessionSpec;
  /** The open session (hot path), null whenever audio must be held. */
  private live: VoiceSession | null = null;
  private readonly log = new ConversationLog();
  private held: string[] = [];
  private droppedTotal = 0;
  private appended = 0;
  private consecutiveFailures = 0;
  private readonly losses: number[] = [];
  private wasOpen = false;
  private reconnects = 0;
  private lastFailure: ModelFailure | null = null;
  private confirmTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private rollover: { standby: VoiceSession | null; failures: number; timer: NodeJS.Timeout | undefined } = {
    standby: null,
    failures: 0,
    timer: undefined,
  };

  constructor(
    spec: SessionSpec,
    private readonly dial: (spec: SessionSpec) => VoiceSession,
    private readonly options: ModelLinkOptions,
    private readonly listener: ModelLinkListener,
  ) {
    this.state = { kind: 'idle' };
    this.spec = { ...spec, context: () => this.log.replayItems() };
  }

  /**
   * Starts with a session dialled before the call existed (pre-dial at /twiml), or dials one.
   * Separate from the constructor because a pre-dialled session may already be ready, and the
   * call must hold its link before hearing that.
   */
  start(predialled?: VoiceSession): void {
    const session = predialled ?? this.dialOrFail();
    if (!session) return;
    this.setState({ kind: 'connecting', session });
    this.heartbeatTimer = setInterval(() => this.guarded(() => this.heartbeat()), this.options.pingIntervalMs);
    this.heartbeatTimer.unref?.();
    this.use(session);
  }

  get kind(): LinkState['kind'] {
    return this.state.kind;
  }

  /** The model is usable or being restored; false once the link failed or closed. */
  get alive(): boolean {
    return this.state.kind !== 'failed' && this.state.kind !== 'closed';
  }

  get isOpen(): boolean {
    return this.live !== null;
  }

  get settings(): AgentSettings {
    return this.spec.settings;
  }

  get tools(): ToolSchema[] {
    return this.spec.tools;
  }

  /** Restored connections so far (not counting rollovers). */
  get reconnectCount(): number {
    return this.reconnects;
  }

  /** Caller frames dropped because the hold buffer was full. */
  get droppedFrames(): number {
    return this.droppedTotal;
  }

  // ---- the call's commands ----

  /** Hot path: caller audio. Held (bounded, oldest dropped) while the model is not open. */
  appendAudio(base64: string): void {
    const live = this.live;
    if (live !== null) {
      live.appendAudio(base64);
      if ((++this.appended & 63) === 0 && live.bufferedAmount > MAX_MODEL_BUFFERED_BYTES) this.listener.onBackpressure();
      return;
    }
    if (!this.alive) return;
    if (this.held.length >= this.options.maxHeldFrames) {
      this.held.shift();
      this.droppedTotal++;
    }
    this.held.push(base64);
  }

  requestResponse(request: ResponseRequest): boolean {
    if (!this.live) return false;
    this.live.requestResponse(request);
    return true;
  }

  /** Cuts an assistant item to what the caller heard; the log keeps only that for replays. */
  truncate(itemId: string, audioEndMs: number, sentMs: number): void {
    this.log.interrupted(itemId, sentMs > 0 ? audioEndMs / sentMs : 0);
    this.live?.truncate(itemId, audioEndMs);
  }

  sendToolResult(callId: string, output: string): void {
    if (this.live) this.live.sendToolResult(callId, output);
    else if (this.alive) this.log.addLocal({ type: 'function_call_output', callId, output });
  }

  /** Context from the caller's side that the model cannot hear (a keypress). */
  addUserText(text: string): void {
    if (!this.alive) return;
    const item = this.log.addLocal({ type: 'message', role: 'user', text });
    this.live?.addContext([item]);
  }

  /** Applies a change to this call's sessions now and to every later one. Returns why not, or null. */
  reconfigure(patch: Partial<AgentSettings>, tools: ToolSchema[] | undefined): string | null {
    if (patch.engine !== undefined && patch.engine !== this.spec.settings.engine) {
      return `the voice engine cannot change during a call (this one runs on ${this.spec.settings.engine}); it applies to calls that start after it is saved`;
    }
    const session = this.state.kind === 'open' || this.state.kind === 'connecting' ? this.state.session : null;
    if (session) {
      const refused = session.reconfigure(patch, tools);
      if (refused) return refused;
    }
    this.rollover.standby?.reconfigure(patch, tools);
    this.spec.settings = { ...this.spec.settings, ...patch };
    if (tools) this.spec.tools = tools;
    return null;
  }

  /**
   * Closes everything: sessions, timers. Nothing dials after this. Safe to call twice. `done` runs
   * once the sessions have said their last word (final usage), at once for engines that say none.
   */
  close(done?: () => void): void {
    if (this.state.kind === 'closed') return done?.();
    const sessions = [this.currentSession(), this.rollover.standby].filter((s): s is VoiceSession => s !== null);
    this.rollover.standby = null;
    this.setState({ kind: 'closed' });
    let open = sessions.length;
    if (open === 0) return done?.();
    const settled = (): void => {
      if (--open === 0) done?.();
    };
    for (const session of sessions) session.close(settled);
  }

  // ---- state ----

  /** The one place the state changes; timers that belong to the old state go with it. */
  private setState(next: LinkState): void {
    clearTimeout(this.confirmTimer);
    clearTimeout(this.retryTimer);
    this.confirmTimer = this.retryTimer = undefined;
    this.state = next;
    this.live = next.kind === 'open' ? next.session : null;
    if (next.kind === 'failed' || next.kind === 'closed') {
      clearInterval(this.heartbeatTimer);
      clearTimeout(this.rollover.timer);
      this.held = [];
    }
  }

  private currentSession(): VoiceSession | null {
    const state = this.state;
    return state.kind === 'connecting' || state.kind === 'open' || state.kind === 'reconnecting' ? state.session : null;
  }

  /** Makes `session` the one this link waits for (attached, and given a deadline to confirm). */
  private use(session: VoiceSession): void {
    session.attach(this.sessionListener(session));
    if (session.closed) return; // attach has reported it
    // A standby that was confirmed while waiting for a pause reports nothing more: adopt it now.
    if (session.ready) return this.onReady(session);
    const remaining = this.options.confirmTimeoutMs - (performance.now() - session.dialedAt);
    this.confirmTimer = setTimeout(
      () => this.guarded(() => session.abandon(`configuration not confirmed within ${this.options.confirmTimeoutMs} ms`)),
      Math.max(0, remaining),
    );
  }

  private sessionListener(session: VoiceSession): VoiceSessionListener {
    const listener = this.listener;
    const log = this.log;
    return {
      onReady: () => this.onReady(session),
      onClosed: (failure) => this.onClosed(session, failure),
      onAudio: (itemId, responseId, base64) => listener.onAudio(itemId, responseId, base64),
      onTranscriptDelta: (role, itemId, delta) => {
        if (role === 'assistant') log.delta(itemId, delta);
        listener.onTranscriptDelta(role, itemId, delta);
      },
      onTranscriptDone: (role, itemId, text) => {
        log.text(itemId, text);
        listener.onTranscriptDone(role, itemId, text);
      },
      onConversationItem: (item) => log.item(item),
      onItemHeard: (itemId, text) => log.heard(itemId, text),
      onSpeechStarted: () => listener.onSpeechStarted(),
      onSpeechStopped: () => listener.onSpeechStopped(),
      onResponseStarted: (id) => listener.onResponseStarted(id),
      onResponseDone: (done) => listener.onResponseDone(done),
      onUsage: (report) => listener.onUsage(report),
      onToolCall: (call) => listener.onToolCall(call),
      onRequestRefused: (ref) => listener.onRequestRefused(ref),
      onFault: (err) => listener.onFault(err),
      onError: (error) => {
        listener.onError(error);
        if (error.fatal && this.currentSession() === session) {
          this.lastFailure = {
            code: 1000,
            reason: error.message,
            lastError: { code: error.code },
            opened: true,
            configRefused: error.configRefused,
            api: session.api,
          };
          this.fail(describeFailure(this.lastFailure));
        }
      },
    };
  }

  private onReady(session: VoiceSession): void {
    const state = this.state;
    if (session === this.rollover.standby) return this.scheduleRolloverCheck();
    if ((state.kind !== 'connecting' && state.kind !== 'reconnecting') || state.session !== session) return;
    // Context first, then what the caller said meanwhile: the service processes events in order.
    session.addContext(this.log.replayItems());
    const held = this.held;
    this.held = [];
    for (const payload of held) session.appendAudio(payload);
    this.setState({ kind: 'open', session, readyAt: Date.now() });
    this.scheduleRollover(session);
    if (state.kind === 'reconnecting') {
      this.reconnects++;
      const reconnectMs = Date.now() - state.lostAt;
      const heldFrames = held.length; // delivered now; the rest were dropped
      const droppedFrames = this.droppedTotal - state.droppedBefore;
      this.logger.log({ callSid: this.spec.callSid, reconnectMs, heldFrames, droppedFrames }, 'model connection restored');
      this.listener.onStatus({ type: 'model.status', status: 'connected', reconnectMs, attempt: state.attempt + 1, heldFrames, droppedFrames });
    } else if (!this.wasOpen) {
      this.listener.onStatus({ type: 'model.status', status: 'connected', connectMs: session.connectMs ?? undefined });
    }
    this.wasOpen = true;
    this.listener.onOpen();
  }

  private onClosed(session: VoiceSession, closed: ModelFailure): void {
    if (session === this.rollover.standby) return this.standbyFailed(closed);
    if (this.currentSession() !== session || !this.alive) return;
    const failure: ModelFailure = { ...closed, api: closed.api ?? session.api };
    this.lastFailure = failure;
    const state = this.state;
    const detail = failureDetail(failure);
    if (!isRetryable(failure)) return this.fail(describeFailure(failure));
    if (state.kind === 'open' && Date.now() - state.readyAt >= STABLE_MS) this.consecutiveFailures = 0;
    const attempt = this.consecutiveFailures++;
    const now = Date.now();
    if (state.kind === 'open') this.losses.push(now);
    while (this.losses.length > 0 && now - this.losses[0] > RECONNECT_WINDOW_MS) this.losses.shift();
    if (attempt >= this.options.maxAttempts) return this.fail(describeFailure(failure), `gave up after ${attempt} attempt${attempt === 1 ? '' : 's'}`);
    if (this.losses.length > MAX_LOSSES_PER_WINDOW) {
      return this.fail(describeFailure(failure), `lost ${this.losses.length} times in ${RECONNECT_WINDOW_MS / 60_000} minutes`);
    }
    const delay = backoffDelay(attempt, this.options.baseDelayMs, this.options.maxDelayMs);
    const lostAt = state.kind === 'reconnecting' ? state.lostAt : now;
    const droppedBefore = state.kind === 'reconnecting' ? state.droppedBefore : this.droppedTotal;
    this.setState({ kind: 'reconnecting', attempt, session: null, lostAt, droppedBefore });
    this.retryTimer = setTimeout(() => this.guarded(() => this.redial()), delay);
    this.logger.warn({ callSid: this.spec.callSid, detail, attempt: attempt + 1, delayMs: delay }, 'model connection lost; reconnecting');
    this.listener.onStatus({ type: 'model.status', status: 'reconnecting', attempt: attempt + 1, detail });
    if (state.kind === 'open') this.listener.onLost();
  }

  private redial(): void {
    const state = this.state;
    if (state.kind !== 'reconnecting') return;
    // A session prepared for rollover is as good as a new one, and already on its way.
    const session = this.rollover.standby ?? this.dialOrFail();
    this.rollover.standby = null;
    if (!session) return;
    this.setState({ ...state, session });
    this.use(session);
  }

  /** Dialling throws only when the server cannot dial at all (no API key): that is a failure for good. */
  private dialOrFail(): VoiceSession | null {
    try {
      return this.dial(this.spec);
    } catch (err) {
      this.logger.error({ callSid: this.spec.callSid, err }, 'cannot dial the model');
      this.fail({ kind: 'service', message: `cannot dial the model: ${(err as Error).message}` });
      return null;
    }
  }

  private fail(problem: ModelProblem, context?: string): void {
    if (!this.alive) return;
    const session = this.currentSession();
    const message = context ? `${context}: ${problem.message}` : problem.message;
    const failed: ModelProblem = { kind: problem.kind, message };
    this.setState({ kind: 'failed', problem: failed });
    session?.close();
    this.dropStandby();
    const detail = this.lastFailure ? failureDetail(this.lastFailure) : undefined;
    this.listener.onStatus({ type: 'model.status', status: 'failed', detail: detail ?? message, problem: failed });
    this.listener.onFailed(failed, detail);
  }

  // ---- heartbeat ----

  private heartbeat(): void {
    const session = this.state.kind === 'open' ? this.state.session : null;
    if (session && !session.heartbeat()) session.abandon(`no answer to a ping within ${this.options.pingIntervalMs} ms`);
    const standby = this.rollover.standby;
    if (standby && !standby.heartbeat()) standby.abandon('standby session did not answer a ping');
  }

  // ---- rollover ----

  /**
   * Sessions have a maximum duration: prepare the next one in time to switch during a pause. The
   * end is the session's own (GPT-Live says when it expires) or the configured limit.
   */
  private scheduleRollover(session: VoiceSession): void {
    clearTimeout(this.rollover.timer);
    const age = performance.now() - session.dialedAt;
    const remaining = session.expiresAt !== null ? session.expiresAt - Date.now() : this.options.sessionMaxMs - age;
    const lead = Math.min(session.rolloverLeadMs ?? DEFAULT_ROLLOVER_LEAD_MS, (age + remaining) * 0.2);
    this.rollover.timer = setTimeout(() => this.guarded(() => this.prepareRollover()), Math.max(0, remaining - lead));
  }

  private prepareRollover(): void {
    if (this.state.kind !== 'open' || this.rollover.standby) return;
    let standby: VoiceSession;
    try {
      standby = this.dial(this.spec);
    } catch (err) {
      this.logger.warn({ callSid: this.spec.callSid, err }, 'cannot dial a standby session');
      return;
    }
    this.rollover.standby = standby;
    standby.attach(this.sessionListener(standby));
    // A standby that never confirms would hold the rollover (and the session would run to its
    // limit): give it the same deadline as any new session, then fail it into the backoff.
    const deadline = this.options.confirmTimeoutMs - (performance.now() - standby.dialedAt);
    this.rollover.timer = setTimeout(
      () =>
        this.guarded(() => {
          if (this.rollover.standby === standby && !standby.ready)
            standby.abandon(`standby configuration not confirmed within ${this.options.confirmTimeoutMs} ms`);
        }),
      Math.max(0, deadline),
    );
  }

  private standbyFailed(failure: ModelFailure): void {
    this.rollover.standby = null;
    if (this.state.kind !== 'open') return;
    const failures = ++this.rollover.failures;
    let delay: number;
    if (failures >= ROLLOVER_MAX_FAILURES) {
      // The service refuses new sessions: stop asking for a while (the current one goes on).
      this.rollover.failures = 0;
      delay = ROLLOVER_PAUSE_MS;
    } else {
      delay = backoffDelay(failures, this.options.baseDelayMs, this.options.maxDelayMs);
    }
    this.logger.warn({ callSid: this.spec.callSid, detail: failureDetail(failure), failures, retryInMs: delay }, 'standby session for rollover failed');
    clearTimeout(this.rollover.timer);
    this.rollover.timer = setTimeout(() => this.guarded(() => this.prepareRollover()), delay);
  }

  private scheduleRolloverCheck(): void {
    clearTimeout(this.rollover.timer);
    this.rollover.timer = setTimeout(() => this.guarded(() => this.tryRollover()), ROLLOVER_CHECK_MS);
  }

  /** Switch to the prepared session at a turn boundary: nobody speaking, nothing pending. */
  private tryRollover(): void {
    const state = this.state;
    const standby = this.rollover.standby;
    if (state.kind !== 'open' || !standby?.ready) return;
    if (!this.listener.isQuiet()) return this.scheduleRolloverCheck();
    this.rollover.standby = null;
    this.rollover.failures = 0;
    standby.addContext(this.log.replayItems());
    const old = state.session;
    this.setState({ kind: 'open', session: standby, readyAt: Date.now() });
    old.close();
    this.scheduleRollover(standby);
    this.logger.log({ callSid: this.spec.callSid }, 'model session rolled over');
    this.listener.onStatus({ type: 'model.status', status: 'connected', detail: 'session rollover' });
  }

  /** Timer callbacks run outside any handler that could catch: a bug ends the call, never the process. */
  private guarded(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.listener.onFault(err);
    }
  }

  private dropStandby(): void {
    clearTimeout(this.rollover.timer);
    this.rollover.standby?.close();
    this.rollover.standby = null;
  }
}

function failureDetail(failure: ModelFailure): string {
  if (failure.httpStatus) return `HTTP ${failure.httpStatus}`;
  // An error event the service sent is the most precise name of what went wrong.
  if (failure.code === 1000 && failure.lastError?.code) return failure.lastError.code;
  return `${failure.code} ${failure.lastError?.code ?? failure.reason}`.trim();
}
