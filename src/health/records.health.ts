import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { PostCallWebhook } from '../records/post-call-webhook.service';
import { RecordWriter } from '../records/record-writer.service';
import { RecordsStore } from '../records/records-store.service';

/**
 * The records' part of /health. Never `down`: calls go on without the database, so taking this
 * instance out of rotation would not help anyone; trouble shows as `degraded` (still HTTP 200).
 */
@Injectable()
export class RecordsHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly store: RecordsStore,
    private readonly writer: RecordWriter,
    private readonly webhook: PostCallWebhook,
  ) {}

  /** Degraded while the database is not open, or writes are failing or being dropped. */
  database() {
    const check = this.health.check('database');
    if (!this.store.enabled) return check.up({ enabled: false });
    const writes = this.writer.health();
    const data = { kind: this.store.kind, state: this.store.state, ...writes, lastError: writes.lastError ?? this.store.lastError };
    return this.store.state === 'open' && writes.failingSince === null ? check.up(data) : check.degraded(data);
  }

  /** Degraded while deliveries are failing (they are retried) or some were given up. */
  async postCallWebhook() {
    const check = this.health.check('postCallWebhook');
    const report = await this.webhook.health();
    if (!report.configured) return check.up({ configured: false });
    const failing = report.consecutiveFailures > 0 || report.gaveUp > 0 || (report.outbox?.retrying ?? 0) > 0;
    return failing ? check.degraded({ ...report }) : check.up({ ...report });
  }
}
