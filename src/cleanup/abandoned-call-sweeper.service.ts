import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config';
import { cancelInterval, scheduleInterval } from './scheduled-interval';
import { CallRecorder } from '../records/call-recorder.service';
import { RecordWriter } from '../records/record-writer.service';
import { RecordsRepository } from '../records/records.repository';
import { RecordsStore } from '../records/records-store.service';

const SWEEP_JOB = 'abandoned-calls';

/**
 * Ends the call records a server left open when it stopped without ending its calls (kill -9, a
 * crash, a lost machine): without it they would read "live" forever in the history and /stats.
 * A live call's row is rewritten every third of RECORDS_LIVE_TIMEOUT_S (CallRecorder); one not
 * written for the whole timeout is ended as `server-lost`, and its post-call webhook is sent like
 * any other. Runs at start-up (once the database is open) and every third of the timeout, on
 * every instance (the update is one statement: two instances sweeping at once end a call once).
 */
@Injectable()
export class AbandonedCallSweeper implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(AbandonedCallSweeper.name);

  constructor(
    private readonly store: RecordsStore,
    private readonly writer: RecordWriter,
    private readonly recorder: CallRecorder,
    private readonly config: AppConfig,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onModuleInit(): void {
    if (!this.store.enabled) return;
    scheduleInterval(this.scheduler, SWEEP_JOB, (this.config.RECORDS_LIVE_TIMEOUT_S * 1000) / 3, () => this.sweep());
    this.store.whenOpen(() => void this.sweep());
  }

  onModuleDestroy(): void {
    cancelInterval(this.scheduler, SWEEP_JOB);
  }

  /** One pass; returns the SIDs it ended (never throws: a failure is logged and tried again next pass). */
  async sweep(now = Date.now()): Promise<string[]> {
    if (this.store.state !== 'open') return [];
    try {
      const ended = await RecordsRepository.endAbandonedCalls(
        this.store.db,
        new Date(now - this.config.RECORDS_LIVE_TIMEOUT_S * 1000),
        this.recorder.liveCallSids(),
      );
      if (ended.length === 0) return ended;
      this.logger.warn(
        { callSids: ended.slice(0, 20), count: ended.length },
        `${ended.length} call record(s) left open by a server that stopped without ending them: ended as server-lost`,
      );
      const url = this.config.POST_CALL_WEBHOOK_URL;
      if (url) for (const callSid of ended) this.writer.write({ kind: 'webhook', callSid, url });
      return ended;
    } catch (err) {
      this.logger.warn({ err }, 'the sweep of abandoned call records failed; trying again at the next one');
      return [];
    }
  }
}
