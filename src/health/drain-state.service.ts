import { Injectable, Logger } from '@nestjs/common';

/**
 * Whether the server is draining: finishing its calls before it stops, taking no new ones.
 * Readiness (/health/ready and /health) answers 503 from the moment draining starts, so a load
 * balancer stops sending new calls here. The shutdown path calls startDraining().
 */
@Injectable()
export class DrainStateService {
  private readonly logger = new Logger('Drain');
  private since: number | null = null;

  get draining(): boolean {
    return this.since !== null;
  }

  /** When draining started (epoch ms), or null. */
  get drainingSince(): number | null {
    return this.since;
  }

  /** Idempotent. */
  startDraining(): void {
    if (this.since !== null) return;
    this.since = Date.now();
    this.logger.log('draining: readiness now fails; no new calls should be sent here');
  }
}
