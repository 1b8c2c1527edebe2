import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { RecordWriter } from './record-writer.service';
import { RecordsMetrics } from './records-metrics.service';
import { RecordsRepository, type OutboxEntry, type OutboxStatus } from './records.repository';
import { RecordsStore } from './records-store.service';
import { signWebhook } from './webhook-signature';

/** Due deliveries are looked for this often (and right after a batch of records is written). */
const POLL_MS = 5_000;
const MAX_RETRY_DELAY_MS = 3_600_000;

export interface WebhookHealth {
  configured: boolean;
  delivered: number;
  failedAttempts: number;
  gaveUp: number;
  /** Attempts failed in a row (0 = the last one was delivered). */
  consecutiveFailures: number;
  lastError: string | null;
  outbox: OutboxStatus | null;
}

/**
 * Delivers each ended call's record to POST_CALL_WEBHOOK_URL from the durable outbox: signed, with
 * an idempotency key, retried with exponential backoff for up to POST_CALL_WEBHOOK_MAX_AGE_S. Each
 * attempt claims one row and leases it under its own token for that attempt alone, so no delivery is
 * ever in flight twice, even across instances; an outcome is recorded only while the row still
 * carries the token. A crash mid-send means one more attempt after the lease (receivers dedupe on
 * Idempotency-Key).
 */
@Injectable()
export class PostCallWebhook implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(PostCallWebhook.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly counts = { delivered: 0, failedAttempts: 0, gaveUp: 0, consecutiveFailures: 0 };
  private lastError: string | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly store: RecordsStore,
    private readonly metrics: RecordsMetrics,
    writer: RecordWriter,
  ) {
    if (this.enabled) writer.onFlushed(() => this.kick());
  }

  get enabled(): boolean {
    return this.store.enabled && this.config.POST_CALL_WEBHOOK_URL !== undefined;
  }

  onModuleInit(): void {
    if (!this.enabled) return;
    // Deliveries left over from before a restart go out once the database is open.
    this.store.whenOpen(() => this.kick());
    this.schedule();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  async health(): Promise<WebhookHealth> {
    let outbox: OutboxStatus | null = null;
    if (this.enabled && this.store.state === 'open') outbox = await RecordsRepository.outboxStatus(this.store.db).catch(() => null);
    return { configured: this.enabled, ...this.counts, lastError: this.lastError, outbox };
  }

  /** Looks for due deliveries now (or right after the pass in progress). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass().finally(() => {
      this.running = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.kick();
      }
    });
  }

  private schedule(): void {
    this.timer = setTimeout(
      () => {
        this.kick();
        if (!this.stopped) this.schedule();
      },
      Math.min(POLL_MS, this.config.POST_CALL_WEBHOOK_RETRY_BASE_MS),
    );
    this.timer.unref();
  }

  /** Sends what is due, one delivery at a time, until nothing is (or the server stops). */
  private async pass(): Promise<void> {
    while (!this.stopped && this.store.state === 'open') {
      let entry: OutboxEntry | null;
      try {
        const now = new Date();
        // Claimed just before its attempt, so the lease (the attempt's timeout twice over, plus time
        // to record the outcome) is never spent waiting behind other deliveries.
        entry = await RecordsRepository.claimNext(this.store.db, now, new Date(now.getTime() + 2 * this.config.POST_CALL_WEBHOOK_TIMEOUT_MS + 5_000));
      } catch (err) {
        this.logger.warn({ err }, 'could not read the webhook outbox');
        return;
      }
      if (!entry) return;
      await this.deliver(entry);
    }
  }

  private async deliver(entry: OutboxEntry): Promise<void> {
    let problem: string | null = null;
    try {
      const res = await fetch(entry.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'voice-agent-backend post-call webhook',
          'idempotency-key': entry.idempotencyKey,
          'x-signature': signWebhook(this.config.POST_CALL_WEBHOOK_SECRET!, entry.payload, Math.floor(Date.now() / 1000)),
          'x-delivery-attempt': String(entry.attempts),
        },
        body: entry.payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.config.POST_CALL_WEBHOOK_TIMEOUT_MS),
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.status < 200 || res.status >= 300) problem = `HTTP ${res.status}`;
    } catch (err) {
      problem = (err as Error).name === 'TimeoutError' ? `no answer within ${this.config.POST_CALL_WEBHOOK_TIMEOUT_MS} ms` : describeFetchError(err);
    }
    const now = new Date();
    try {
      if (problem === null) {
        if (await RecordsRepository.markDelivered(this.store.db, entry, now)) this.onDelivered(entry);
        else this.onLeaseLost(entry, 'delivered');
        return;
      }
      const next = nextAttempt(
        entry.attempts,
        entry.createdAt.getTime(),
        now.getTime(),
        this.config.POST_CALL_WEBHOOK_RETRY_BASE_MS,
        this.config.POST_CALL_WEBHOOK_MAX_AGE_S,
      );
      const recorded =
        next === 'give-up'
          ? await RecordsRepository.markFailed(this.store.db, entry, now, problem)
          : await RecordsRepository.markRetry(this.store.db, entry, new Date(next), problem);
      if (!recorded) return this.onLeaseLost(entry, `failed (${problem})`);
      this.counts.failedAttempts++;
      this.counts.consecutiveFailures++;
      this.lastError = `${entry.callSid}: ${problem}`;
      if (next === 'give-up') {
        this.counts.gaveUp++;
        this.metrics.webhook('gave_up');
        this.logger.error(`post-call webhook for ${entry.callSid} given up after ${entry.attempts} attempts: ${problem}`);
        return;
      }
      this.metrics.webhook('failed');
      // One line per burst of failures; the counts are in metrics and /health.
      if (this.counts.consecutiveFailures === 1)
        this.logger.warn(`post-call webhook for ${entry.callSid} failed (${problem}); retrying in ${next - now.getTime()} ms`);
    } catch (err) {
      // The lease runs out and the delivery is tried again: at least once, never twice at a time.
      this.logger.warn({ err }, `could not record the webhook outcome for ${entry.callSid}`);
    }
  }

  /**
   * The attempt outlived its lease (a stalled database or process) and another sender has claimed
   * the row since: that sender's outcome is the one recorded, this one is dropped (the receiver may
   * see the delivery again, and dedupes on its Idempotency-Key).
   */
  private onLeaseLost(entry: OutboxEntry, outcome: string): void {
    this.logger.warn(
      `post-call webhook for ${entry.callSid}: attempt ${entry.attempts} ${outcome} after its lease ran out and another sender claimed it; outcome not recorded`,
    );
  }

  private onDelivered(entry: OutboxEntry): void {
    this.counts.delivered++;
    this.metrics.webhook('delivered');
    if (this.counts.consecutiveFailures > 0) this.logger.log(`post-call webhook delivering again (${entry.callSid} delivered)`);
    this.counts.consecutiveFailures = 0;
  }
}

/**
 * After failed attempt number `attempts` (1 = the first), when to try again (epoch ms): the base
 * delay doubling per attempt, at most an hour, and never past `maxAgeS` after the call ended —
 * then the delivery is given up.
 */
export function nextAttempt(attempts: number, createdAtMs: number, nowMs: number, baseMs: number, maxAgeS: number): number | 'give-up' {
  const deadline = createdAtMs + maxAgeS * 1000;
  if (nowMs >= deadline) return 'give-up';
  const delay = Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.min(nowMs + delay, deadline);
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
