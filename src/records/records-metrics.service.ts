import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service';
import type { WriteOutcome } from './record-write-queue';

export type WebhookOutcome = 'delivered' | 'failed' | 'gave_up';

/** The records' Prometheus series, in the app's own registry (GET /metrics). */
@Injectable()
export class RecordsMetrics {
  private readonly writes: Counter<'outcome'>;
  private readonly webhooks: Counter<'outcome'>;
  private queueLength: () => number = () => 0;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.writes = new Counter({
      name: 'voice_agent_record_writes_total',
      help: 'Call-record writes: written, failed (the database refused or timed out, after retries), dropped (the queue was full)',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['written', 'failed', 'dropped'] as const) this.writes.inc({ outcome }, 0);
    this.webhooks = new Counter({
      name: 'voice_agent_post_call_webhooks_total',
      help: 'Post-call webhook attempts: delivered (2xx), failed (will be retried), gave_up (retried for POST_CALL_WEBHOOK_MAX_AGE_S)',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['delivered', 'failed', 'gave_up'] as const) this.webhooks.inc({ outcome }, 0);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- read at scrape time by prom-client's collect()
    const self = this;
    new Gauge({
      name: 'voice_agent_record_queue_length',
      help: 'Call-record writes waiting for the database',
      registers,
      collect() {
        this.set(self.queueLength());
      },
    });
  }

  /** Where the queue gauge reads its value (RecordWriter). */
  watchQueue(length: () => number): void {
    this.queueLength = length;
  }

  recordWrites(outcome: WriteOutcome, count: number): void {
    this.writes.inc({ outcome }, count);
  }

  webhook(outcome: WebhookOutcome): void {
    this.webhooks.inc({ outcome });
  }
}
