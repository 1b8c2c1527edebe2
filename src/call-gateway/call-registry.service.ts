import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { RealtimeConnection } from '../openai/realtime-connection';
import { RealtimeConnectionFactory } from '../openai/realtime-connection.factory';
import { SessionConfigService } from '../openai/session-config.service';
import { ToolRegistry } from '../tools/tool-registry.service';
import { CallEndReason, CallEventBus } from './call-events';
import type { CallSession } from './call-session';

interface Reservation {
  connection: RealtimeConnection;
  reservedAt: number;
  timer: NodeJS.Timeout;
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

  /** Room for one more call (live calls plus those reserved by /twiml and not yet streaming). */
  hasCapacity(): boolean {
    return this.live.size + this.reservations.size < this.capacity;
  }

  sessions(): IterableIterator<CallSession> {
    return this.live.values();
  }

  get(callSid: string): CallSession | undefined {
    return this.live.get(callSid);
  }

  /** Opens and configures a model connection now, so the handshake is done before the caller needs it. */
  dial(callSid: string): RealtimeConnection {
    const connection = this.connections.create(callSid);
    this.events.publish(callSid, { type: 'model.status', status: 'connecting' });
    connection.connect().catch((err: Error) => this.logger.warn({ callSid }, `model connection for ${callSid} failed: ${err.message}`));
    connection.send(this.sessionConfig.sessionUpdate(this.tools.schemas()));
    return connection;
  }

  /** Called by /twiml: reserve a slot and pre-dial. Returns false at capacity. */
  reserve(callSid: string): boolean {
    if (this.reservations.has(callSid) || this.live.has(callSid)) return true;
    if (!this.hasCapacity()) return false;
    const connection = this.dial(callSid);
    const timer = setTimeout(() => {
      if (this.reservations.get(callSid)?.connection !== connection) return;
      this.logger.warn({ callSid }, `no stream arrived for ${callSid} within ${this.config.PREDIAL_TIMEOUT_MS} ms; closing its model connection`);
      this.dropReservation(callSid);
    }, this.config.PREDIAL_TIMEOUT_MS);
    timer.unref();
    this.reservations.set(callSid, { connection, reservedAt: Date.now(), timer });
    return true;
  }

  takeReservation(callSid: string): RealtimeConnection | undefined {
    const reservation = this.reservations.get(callSid);
    if (!reservation) return undefined;
    clearTimeout(reservation.timer);
    this.reservations.delete(callSid);
    return reservation.connection;
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
  admit(session: CallSession): 'ok' | 'duplicate' | 'at capacity' {
    if (this.live.has(session.callSid)) return 'duplicate';
    if (!this.reservations.has(session.callSid) && !this.hasCapacity()) return 'at capacity';
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
