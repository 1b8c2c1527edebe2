import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { RecordWriteQueue, type WriteOutcome } from './record-write-queue';
import { RecordsMetrics } from './records-metrics.service';
import { RecordsRepository, type RecordWrite } from './records.repository';
import { RecordsStore } from './records-store.service';

const BATCH_SIZE = 500;
const MAX_ATTEMPTS = 3;
const RETRY_DELAY_MS = 500;

export interface WriterHealth {
  queued: number;
  written: number;
  failed: number;
  dropped: number;
  /** Writes failed or dropped since the last successful flush (0 = healthy). */
  failingSince: string | null;
  lastError: string | null;
}

/**
 * Puts record writes on the bounded queue and flushes them into the store in batches. Failures
 * and drops are counted (metrics, /health) and logged once per burst: the first one, then one
 * line when writes succeed again.
 */
@Injectable()
export class RecordWriter {
  private readonly logger = new Logger(RecordWriter.name);
  private readonly queue: RecordWriteQueue<RecordWrite>;
  private readonly totals = { written: 0, failed: 0, dropped: 0 };
  private burst: { since: number; failed: number; dropped: number } | null = null;
  private lastError: string | null = null;
  private readonly flushedListeners: ((writes: number) => void)[] = [];

  constructor(
    private readonly store: RecordsStore,
    config: AppConfig,
    private readonly metrics: RecordsMetrics,
  ) {
    this.queue = new RecordWriteQueue<RecordWrite>(
      async (batch) => RecordsRepository.applyBatch(await this.store.ready(), batch),
      {
        maxSize: config.RECORDS_QUEUE_MAX,
        flushIntervalMs: config.RECORDS_FLUSH_MS,
        batchSize: BATCH_SIZE,
        maxAttempts: MAX_ATTEMPTS,
        retryDelayMs: RETRY_DELAY_MS,
        timeoutMs: config.RECORDS_WRITE_TIMEOUT_MS,
      },
      (outcome, count, err) => this.onOutcome(outcome, count, err),
    );
    metrics.watchQueue(() => this.queue.length);
  }

  /** Never blocks and never throws: a write that does not fit is dropped and counted. */
  write(write: RecordWrite): void {
    if (!this.store.enabled) return;
    this.queue.push(write);
  }

  /** Called after each batch that reached the database (e.g. to send webhooks it queued). */
  onFlushed(listener: (writes: number) => void): void {
    this.flushedListeners.push(listener);
  }

  health(): WriterHealth {
    return {
      queued: this.queue.length,
      ...this.totals,
      failingSince: this.burst ? new Date(this.burst.since).toISOString() : null,
      lastError: this.lastError,
    };
  }

  /** Flushes what is queued, until `deadlineMs` at the latest (shutdown). */
  drain(deadlineMs: number): Promise<boolean> {
    return this.queue.drain(deadlineMs);
  }

  private onOutcome(outcome: WriteOutcome, count: number, err?: unknown): void {
    this.totals[outcome] += count;
    this.metrics.recordWrites(outcome, count);
    if (outcome === 'written') {
      if (this.burst) {
        const { failed, dropped, since } = this.burst;
        this.logger.log(
          `call records are being written again (${failed} write(s) failed and ${dropped} dropped over ${Math.round((Date.now() - since) / 1000)} s)`,
        );
        this.burst = null;
      }
      for (const listener of this.flushedListeners) listener(count);
      return;
    }
    if (err) this.lastError = err instanceof Error ? err.message : JSON.stringify(err);
    if (!this.burst) {
      this.burst = { since: Date.now(), failed: 0, dropped: 0 };
      if (outcome === 'failed')
        this.logger.warn({ err }, `call-record writes failed (${count}); calls go on, further failures are counted until writes succeed`);
      else this.logger.warn(`call-record queue full: writes are being dropped; calls go on, further drops are counted until writes succeed`);
    }
    this.burst[outcome] += count;
  }
}
