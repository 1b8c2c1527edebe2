import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { CallRegistry } from '../call-gateway/call-registry.service';
import { DrainStateService } from './drain-state.service';
import { ModelReachability } from './model-reachability.service';

/** Terminus indicators about taking calls, read from the real state of the server. */
@Injectable()
export class CallsHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly registry: CallRegistry,
    private readonly config: AppConfig,
    private readonly drain: DrainStateService,
    private readonly model: ModelReachability,
  ) {}

  /** Down when the variables needed to take calls are missing. */
  configured() {
    const check = this.health.check('config');
    const missing = this.config.missingForCalls;
    return missing.length === 0 ? check.up() : check.down({ missing });
  }

  /** Down when every slot is taken (new calls would get the busy message). */
  capacity() {
    const check = this.health.check('calls');
    const data = { active: this.registry.activeCount, reserved: this.registry.reservedCount, capacity: this.registry.capacity };
    return this.registry.hasCapacity() ? check.up(data) : check.down(data);
  }

  /** Down from the moment the server starts draining for shutdown. */
  notDraining() {
    const check = this.health.check('drain');
    const since = this.drain.drainingSince;
    return since === null ? check.up({ draining: false }) : check.down({ draining: true, since: new Date(since).toISOString() });
  }

  /**
   * Degraded (still HTTP 200) when the last model connections all failed: callers hear the
   * apology, but taking this instance out of rotation would not help them, so it is not `down`.
   */
  modelReachability() {
    const check = this.health.check('model');
    const report = { ...this.model.report() };
    return report.reachable ? check.up(report) : check.degraded(report);
  }
}
