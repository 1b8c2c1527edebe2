import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { RealtimeConnection } from '../openai/realtime-connection';
import { RealtimeConnectionFactory } from '../openai/realtime-connection.factory';
import { type AgentSettings, SessionConfigService } from '../openai/session-config.service';
import { ToolRegistry } from '../tools/tool-registry.service';
import { CallEndReason, CallEventBus } from './call-events';
import type { CallSession } from './call-session';

interface Reservation {
  connection: RealtimeConnection;
  settings: AgentSettings;
  /** One-time secret passed to the stream in the TwiML's <Parameter>s. */
  token: string;
  reservedAt: number;
  timer: NodeJS.Timeout;
}

/** What a stream gets when it claims its reservation. */
export interface ClaimedReservation {
  connection: RealtimeConnection;
  settings: AgentSettings;
}

/** How the stream-ended webhook should continue: remembered briefly after each call. */
const OUTCOME_TTL_MS = 5 * 60_000;
const MAX_OUTCOMES = 10_000;

/**
 * The live calls, the calls reserved by /twiml with a pre-dialled model connection, and the
 * recent outcomes. Holds collections of per-call objects, never per-call state.
 */
@Injectable()
export class CallRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger(CallRegistry.name);
  private readonly live = new Map<string, CallSession>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly outcomes = new Map<string, { reason: CallEndReason; at: number }>();
  private drainingSince: number | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly connections: RealtimeConnectionFactory,
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

  sessions(): IterableIterator<CallSession> {
    return this.live.values();
  }

  get(callSid: string): CallSession | undefined {
    return this.live.get(callSid);
  }

  /**
   * Opens a model connection and queues its `session.update`, so configuration is the first thing
   * the service sees. Used by pre-dial, dial-on-start, reconnects and session rollover.
   */
  dial(callSid: string, settings: AgentSettings = this.sessionConfig.current): RealtimeConnection {
    const connection = this.connections.create(callSid);
    connection.connect().catch((err: Error) => this.logger.warn({ callSid }, `model connection for ${callSid} failed: ${err.message}`));
    connection.send(this.sessionConfig.sessionUpdate(this.tools.schemas(), settings));
    return connection;
  }

  /**
   * Called by /twiml: reserve a slot, pre-dial the model, and mint the one-time token the stream
   * must present. Returns null at capacity (or while draining).
   */
  reserve(callSid: string): { token: string } | null {
    const existing = this.reservations.get(callSid);
    if (existing) return { token: existing.token };
    if (this.live.has(callSid) || !this.hasCapacity()) return null;
    const settings = this.sessionConfig.current;
    this.events.publish(callSid, { type: 'model.status', status: 'connecting' });
    const connection = this.dial(callSid, settings);
    const token = randomBytes(18).toString('base64url');
    const timer = setTimeout(() => {
      if (this.reservations.get(callSid)?.connection !== connection) return;
      this.logger.warn({ callSid }, `no stream arrived for ${callSid} within ${this.config.PREDIAL_TIMEOUT_MS} ms; closing its model connection`);
      this.dropReservation(callSid);
    }, this.config.PREDIAL_TIMEOUT_MS);
    timer.unref();
    this.reservations.set(callSid, { connection, settings, token, reservedAt: Date.now(), timer });
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
    return { connection: reservation.connection, settings: reservation.settings };
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

  /** A stream said `start`: may it become a live call? */
  admit(session: CallSession, reserved: boolean): 'ok' | 'duplicate' | 'at capacity' {
    if (this.live.has(session.callSid)) return 'duplicate';
    if (!reserved && !this.hasCapacity()) return 'at capacity';
    this.live.set(session.callSid, session);
    return 'ok';
  }

  release(session: CallSession): void {
    if (this.live.get(session.callSid) === session) this.live.delete(session.callSid);
    if (session.endReason) this.rememberOutcome(session.callSid, session.endReason);
  }

  /** How the call's stream ended, for the <Connect action> webhook; undefined if unknown. */
  outcome(callSid: string): CallEndReason | undefined {
    const entry = this.outcomes.get(callSid);
    if (!entry || Date.now() - entry.at > OUTCOME_TTL_MS) return undefined;
    return entry.reason;
  }

  private rememberOutcome(callSid: string, reason: CallEndReason): void {
    if (this.outcomes.size >= MAX_OUTCOMES) {
      const oldest = this.outcomes.keys().next().value;
      if (oldest !== undefined) this.outcomes.delete(oldest);
    }
    this.outcomes.delete(callSid);
    this.outcomes.set(callSid, { reason, at: Date.now() });
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
    for (const session of left) session.end('shutdown');
    for (const callSid of [...this.reservations.keys()]) this.dropReservation(callSid);
    return left.length;
  }

  private dropReservation(callSid: string): void {
    const reservation = this.reservations.get(callSid);
    if (!reservation) return;
    clearTimeout(reservation.timer);
    this.reservations.delete(callSid);
    reservation.connection.close(1000, 'no stream');
  }

  onApplicationShutdown(): void {
    for (const callSid of [...this.reservations.keys()]) this.dropReservation(callSid);
    for (const session of [...this.live.values()]) session.end('shutdown');
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
