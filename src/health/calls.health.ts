import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { CallRegistry } from '../call-gateway/call-registry.service';
import { ModelReachability } from './model-reachability.service';

/** Terminus indicators about taking calls, read from the real state of the server. */
@Injectable()
export class CallsHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly registry: CallRegistry,
    private readonly config: AppConfig,
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
    return this.registry.atCapacity ? check.down(data) : check.up(data);
  }

  /** Down from the moment the server starts draining for shutdown (CallRegistry.startDraining, on SIGTERM/SIGINT). */
  notDraining() {
    const check = this.health.check('drain');
    return this.registry.draining ? check.down({ draining: true }) : check.up({ draining: false });
  }

  /**
   * Degraded (still HTTP 200) while a setting is unsafe or cannot work with Twilio (unsigned
   * webhooks, an http:// PUBLIC_URL, …): each warning names the fix. Production refuses these at start.
   */
  warnings() {
    const check = this.health.check('warnings');
    const warnings = this.config.warnings;
    return warnings.length === 0 ? check.up({ warnings }) : check.degraded({ warnings });
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
