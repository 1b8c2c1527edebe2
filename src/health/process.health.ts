import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { loadavg } from 'node:os';
import { AppConfig } from '../config/app-config';
import { EventLoopMonitor } from './event-loop-monitor.service';

const MB = 1024 * 1024;

/** The process's own resources; every value is read without blocking (no sampling on request). */
@Injectable()
export class ProcessHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly loop: EventLoopMonitor,
    private readonly config: AppConfig,
  ) {}

  /** Always up while the process can answer: uptime, memory, load. */
  process() {
    const memory = process.memoryUsage();
    return this.health.check('process').up({
      pid: process.pid,
      uptimeS: Math.round(process.uptime()),
      rssMb: Math.round(memory.rss / MB),
      heapUsedMb: Math.round(memory.heapUsed / MB),
      heapTotalMb: Math.round(memory.heapTotal / MB),
      loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    });
  }

  /** Down when the event loop was blocked longer than HEALTH_MAX_EVENT_LOOP_DELAY_MS in the last few seconds. */
  eventLoop() {
    const check = this.health.check('eventLoop');
    const delay = this.loop.recent();
    const data = {
      delayMaxMs: delay.maxMs,
      delayP99Ms: delay.p99Ms,
      delayMeanMs: delay.meanMs,
      samples: delay.samples,
      limitMs: this.config.HEALTH_MAX_EVENT_LOOP_DELAY_MS,
    };
    return delay.maxMs < this.config.HEALTH_MAX_EVENT_LOOP_DELAY_MS ? check.up(data) : check.down(data);
  }
}
