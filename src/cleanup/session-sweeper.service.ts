import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config';
import { cancelInterval, scheduleInterval } from './scheduled-interval';
import type { CallEndReason } from '../call-gateway/call-events';
import { CallRegistry } from '../call-gateway/call-registry.service';

const SWEEP_JOB = 'session-sweeper';

/**
 * Ends calls that are stale: no caller audio for MEDIA_IDLE_TIMEOUT_S, longer than
 * MAX_CALL_DURATION_S, or whose model connection is gone and not being restored; and closes
 * pre-dialled connections nobody adopted.
 */
@Injectable()
export class SessionSweeper implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SessionSweeper.name);

  constructor(
    private readonly registry: CallRegistry,
    private readonly config: AppConfig,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onModuleInit(): void {
    scheduleInterval(this.scheduler, SWEEP_JOB, this.config.SWEEP_INTERVAL_MS, () => this.sweep());
  }

  onModuleDestroy(): void {
    cancelInterval(this.scheduler, SWEEP_JOB);
  }

  /** One pass; returns what it swept (for tests and logs). */
  sweep(now = Date.now()): { ended: { callSid: string; reason: CallEndReason }[]; reservationsDropped: number } {
    const idleMs = this.config.MEDIA_IDLE_TIMEOUT_S * 1000;
    const maxMs = this.config.MAX_CALL_DURATION_S * 1000;
    const ended: { callSid: string; reason: CallEndReason }[] = [];
    for (const session of [...this.registry.calls()]) {
      const reason: CallEndReason | null =
        now - session.startedAt > maxMs
          ? 'max-duration'
          : now - session.lastMediaAt > idleMs
            ? 'media-timeout'
            : !session.modelAlive
              ? 'model-unavailable' // lost its model and is not reconnecting: never leave a caller in silence
              : null;
      if (!reason) continue;
      session.end(reason);
      ended.push({ callSid: session.callSid, reason });
    }
    const reservationsDropped = this.registry.dropStaleReservations(this.config.PREDIAL_TIMEOUT_MS + 5_000, now);
    if (ended.length > 0 || reservationsDropped > 0) {
      this.logger.log(
        `swept ${ended.length} stale call(s) ${ended.map((e) => `${e.callSid}:${e.reason}`).join(' ')} and ${reservationsDropped} unused reservation(s)`,
      );
    }
    return { ended, reservationsDropped };
  }
}
