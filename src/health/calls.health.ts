import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { CallRegistry } from '../call-gateway/call-registry.service';

/** Terminus indicators that read the real state of the server. */
@Injectable()
export class CallsHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly registry: CallRegistry,
    private readonly config: AppConfig,
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
    const data = { active: this.registry.activeCount, reserved: this.registry.reservedCount, capacity: this.registry.capacity, draining: this.registry.draining };
    return this.registry.hasCapacity() ? check.up(data) : check.down(data);
  }
}
