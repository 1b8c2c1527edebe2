import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config';
import { cancelInterval, scheduleInterval } from './scheduled-interval';
import { RecordsRepository } from '../records/records.repository';
import { RecordsStore } from '../records/records-store.service';

const RETENTION_JOB = 'record-retention';
const RETENTION_INTERVAL_MS = 3_600_000;
/** Calls deleted per statement: a large backlog goes in small steps, never one long statement. */
const DELETE_CHUNK = 200;

/**
 * Enforces CALL_RETENTION_DAYS: at start-up (once the database is open) and every hour, calls that
 * started longer ago are deleted with everything recorded under them. 0 keeps everything.
 */
@Injectable()
export class RecordRetention implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RecordRetention.name);

  constructor(
    private readonly store: RecordsStore,
    private readonly config: AppConfig,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onModuleInit(): void {
    if (!this.store.enabled || this.config.CALL_RETENTION_DAYS === 0) return;
    scheduleInterval(this.scheduler, RETENTION_JOB, RETENTION_INTERVAL_MS, () => this.sweep());
    this.store.whenOpen(() => void this.sweep());
  }

  onModuleDestroy(): void {
    cancelInterval(this.scheduler, RETENTION_JOB);
  }

  /** One pass; returns how many calls were deleted (never throws: a failure is logged and retried next hour). */
  async sweep(now = Date.now()): Promise<number> {
    const days = this.config.CALL_RETENTION_DAYS;
    if (days === 0 || this.store.state !== 'open') return 0;
    const startedBefore = new Date(now - days * 86_400_000);
    let deleted = 0;
    try {
      for (;;) {
        const n = await RecordsRepository.deleteCalls(this.store.db, { startedBefore, limit: DELETE_CHUNK });
        deleted += n;
        if (n < DELETE_CHUNK) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      this.logger.warn({ err }, 'call retention sweep failed; trying again at the next one');
    }
    if (deleted > 0) this.logger.log(`deleted ${deleted} call record(s) older than ${days} day(s)`);
    return deleted;
  }
}
