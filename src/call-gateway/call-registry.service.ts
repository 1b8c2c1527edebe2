import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { ModelDialer } from '../openai/model-dialer.service';
import { type AgentSettings, SessionConfigService } from '../openai/session-config.service';
import type { ToolSchema, VoiceSession } from '../openai/voice-engine';
import { offeredTools } from '../tools/offered-tools';
import { ToolRegistry } from '../tools/tool-registry.service';
import { CallEndReason, CallEventBus } from './call-events';
import type { LiveCall } from './live-call';

interface Reservation {
  session: VoiceSession;
  settings: AgentSettings;
  tools: ToolSchema[];
  /** One-time secret passed to the stream in the TwiML's <Parameter>s. */
  token: string;
  reservedAt: number;
  timer: NodeJS.Timeout;
}

/** What a stream gets when it claims its reservation. */
export interface ClaimedReservation {
  session: VoiceSession;
  settings: AgentSettings;
  tools: ToolSchema[];
}

/** How the stream-ended webhook should continue: remembered briefly after each call. */
const OUTCOME_TTL_MS = 5 * 60_000;
const MAX_OUTCOMES = 10_000;
/** Answered CallSids are remembered for a call's longest life plus this, so a replayed webhook mints nothing. */
const ANSWERED_MARGIN_MS = 10 * 60_000;
const MAX_ANSWERED = 100_000;

/**
 * The live calls, the calls reserved by /twiml with a pre-dialled model session, the CallSids
 * already answered, and the recent outcomes. Holds collections of per-call objects, never
 * per-call state.
 */
@Injectable()
export class CallRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger(CallRegistry.name);
  private readonly live = new Map<string, LiveCall>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly answered = new Map<string, number>();
  private readonly outcomes = new Map<string, { reason: CallEndReason; at: number }>();
  private drainingSince: number | null = null;
  /** Media sockets that have not said `start` yet. */
  private unstarted = 0;

  constructor(
    private readonly config: AppConfig,
    private readonly dialer: ModelDialer,
    private readonly sessionConfig: SessionConfigService,
    private readonly tools: ToolRegistry,
    private readonly events: CallEventBus,
  ) {}

  get activeCount(): number {
    return this.live.size;
  }

  get reservedCount(): number {
    return this.reservations.size;
  }

  get capacity(): number {
    return this.config.MAX_CONCURRENT_CALLS;
  }

  /** Every slot is taken by a live call or one reserved by /twiml and not yet streaming. */
  get atCapacity(): boolean {
    return this.live.size + this.reservations.size >= this.capacity;
  }

  /** Room for one more call; none while draining. */
  hasCapacity(): boolean {
    return this.drainingSince === null && !this.atCapacity;
  }

  get draining(): boolean {
    return this.drainingSince !== null;
  }

  /** Stop taking new calls; live ones go on. */
  startDraining(): void {
    this.drainingSince ??= Date.now();
  }

  calls(): IterableIterator<LiveCall> {
    return this.live.values();
  }

  get(callSid: string): LiveCall | undefined {
    return this.live.get(callSid);
  }

  // ---- media sockets before `start` ----

  /** Sockets that have not said `start` cost little each, but must not be unlimited. */
  get unstartedLimit(): number {
    return Math.max(32, this.capacity);
  }

  get unstartedAtLimit(): boolean {
    return this.unstarted >= this.unstartedLimit;
  }

  /** A media socket opened; false (and not counted) when too many are waiting for `start`. */
  streamOpened(): boolean {
    if (this.unstarted >= this.unstartedLimit) return false;
    this.unstarted++;
    return true;
  }

  /** A counted media socket said `start` or closed without it. */
  streamSettled(): void {
    if (this.unstarted > 0) this.unstarted--;
  }

  // ---- reservations (the voice webhook) ----

  /** This CallSid was answered before: a second webhook for it is a replay, not Twilio. */
  wasAnswered(callSid: string, now = Date.now()): boolean {
    if (this.reservations.has(callSid)) return false; // a genuine retry gets the same answer
    const at = this.answered.get(callSid);
    return at !== undefined && now - at <= this.answeredTtlMs;
  }

  private get answeredTtlMs(): number {
    return this.config.MAX_CALL_DURATION_S * 1000 + ANSWERED_MARGIN_MS;
  }

  /**
   * Called by /twiml: reserve a slot, pre-dial the model, and mint the one-time token the stream
   * must present. A retry of the same webhook gets the same token. Returns null at capacity (or
   * while draining) and for a CallSid already answered (a replay).
   */
  reserve(callSid: string): { token: string } | null {
    const existing = this.reservations.get(callSid);
    if (existing) return { token: existing.token };
    if (this.live.has(callSid) || this.wasAnswered(callSid) || !this.hasCapacity()) return null;
    const settings = this.sessionConfig.current;
    const tools = offeredTools(this.tools, settings.enabledTools);
    this.events.publish(callSid, { type: 'model.status', status: 'connecting' });
    const session = this.dialer.dial({ callSid, settings, tools });
    const token = randomBytes(18).toString('base64url');
    const timer = setTimeout(() => {
      if (this.reservations.get(callSid)?.session !== session) return;
      this.logger.warn({ callSid, timeoutMs: this.config.PREDIAL_TIMEOUT_MS }, 'no stream arrived for a reserved call; closing its model session');
      this.dropReservation(callSid);
    }, this.config.PREDIAL_TIMEOUT_MS);
    timer.unref();
    this.reservations.set(callSid, { session, settings, tools, token, reservedAt: Date.now(), timer });
    this.remember(callSid);
    return { token };
  }

  /**
   * A stream said `start` for `callSid` with `token`: hand over the reservation (once).
   * 'missing' when there is none (expired, or the stream did not come through /twiml).
   */
  claim(callSid: string, token: string | undefined): ClaimedReservation | 'missing' | 'bad-token' {
    const reservation = this.reservations.get(callSid);
    if (!reservation) return 'missing';
    if (!token || !sameSecret(token, reservation.token)) return 'bad-token';
    clearTimeout(reservation.timer);
    this.reservations.delete(callSid);
    return { session: reservation.session, settings: reservation.settings, tools: reservation.tools };
  }

  /** Reservations older than `maxAgeMs`; the sweeper's second line of defence behind each timer. */
  dropStaleReservations(maxAgeMs: number, now = Date.now()): number {
    let dropped = 0;
    for (const [callSid, reservation] of this.reservations) {
      if (now - reservation.reservedAt > maxAgeMs) {
        this.dropReservation(callSid);
        dropped++;
      }
    }
    return dropped;
  }

  // ---- live calls ----

  /** A stream said `start`: may it become a live call? */
  admit(call: LiveCall, reserved: boolean): 'ok' | 'duplicate' | 'at capacity' {
    if (this.live.has(call.callSid)) return 'duplicate';
    if (!reserved && !this.hasCapacity()) return 'at capacity';
    this.live.set(call.callSid, call);
    this.remember(call.callSid);
    return 'ok';
  }

  release(call: LiveCall): void {
    if (this.live.get(call.callSid) === call) this.live.delete(call.callSid);
    if (call.endReason) this.rememberOutcome(call.callSid, call.endReason);
  }

  /** How the call's stream ended, for the <Connect action> webhook; undefined if unknown. */
  outcome(callSid: string): CallEndReason | undefined {
    const entry = this.outcomes.get(callSid);
    if (!entry || Date.now() - entry.at > OUTCOME_TTL_MS) return undefined;
    return entry.reason;
  }

  /**
   * Graceful drain: take no new calls, let live ones finish for up to `timeoutMs`, then end the
   * rest (they hear the shutdown message through /twiml/stream-ended). Returns how many were ended.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.startDraining();
    const deadline = Date.now() + timeoutMs;
    while (this.live.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, Math.max(1, deadline - Date.now()))));
    }
    const left = [...this.live.values()];
    for (const call of left) call.end('shutdown');
    for (const callSid of [...this.reservations.keys()]) this.dropReservation(callSid);
    return left.length;
  }

  onApplicationShutdown(): void {
    for (const callSid of [...this.reservations.keys()]) this.dropReservation(callSid);
    for (const call of [...this.live.values()]) call.end('shutdown');
  }

  private dropReservation(callSid: string): void {
    const reservation = this.reservations.get(callSid);
    if (!reservation) return;
    clearTimeout(reservation.timer);
    this.reservations.delete(callSid);
    reservation.session.close();
  }

  private remember(callSid: string): void {
    const now = Date.now();
    this.answered.delete(callSid);
    this.answered.set(callSid, now);
    // Oldest first (insertion order): expired and over-the-bound entries go from the front.
    for (const [sid, at] of this.answered) {
      if (this.answered.size <= MAX_ANSWERED && now - at <= this.answeredTtlMs) break;
      this.answered.delete(sid);
    }
  }

  private rememberOutcome(callSid: string, reason: CallEndReason): void {
    if (this.outcomes.size >= MAX_OUTCOMES) {
      const oldest = this.outcomes.keys().next().value;
      if (oldest !== undefined) this.outcomes.delete(oldest);
    }
    this.outcomes.delete(callSid);
    this.outcomes.set(callSid, { reason, at: Date.now() });
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
