import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Sampling period of the delay monitor: the delay of a timer that should fire every RESOLUTION_MS. */
const RESOLUTION_MS = 20;
/** Delays are judged over the current window and the one before it. */
export const EVENT_LOOP_WINDOW_MS = 5_000;

export interface EventLoopDelay {
  /** Worst delay seen in the window (ms beyond the timer's period). */
  maxMs: number;
  p99Ms: number;
  meanMs: number;
  /** Measurements the figures rest on (one per RESOLUTION_MS while the loop is free). */
  samples: number;
}

/**
 * Event-loop delay, measured by Node itself (perf_hooks.monitorEventLoopDelay: a native timer,
 * no work on our loop) over rolling windows of EVENT_LOOP_WINDOW_MS. Reading it never blocks.
 */
@Injectable()
export class EventLoopMonitor implements OnModuleInit, OnModuleDestroy {
  private readonly histogram: ReturnType<typeof monitorEventLoopDelay> = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private timer: NodeJS.Timeout | undefined;
  private previous: EventLoopDelay | null = null;

  onModuleInit(): void {
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.previous = this.read();
      this.histogram.reset();
    }, EVENT_LOOP_WINDOW_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }

  /** The worse of the current window and the previous one (so a stall is reported for 5–10 s). */
  recent(): EventLoopDelay {
    const current = this.read();
    const previous = this.previous;
    if (!previous) return current;
    return {
      maxMs: Math.max(current.maxMs, previous.maxMs),
      p99Ms: Math.max(current.p99Ms, previous.p99Ms),
      meanMs: current.meanMs,
      samples: current.samples + previous.samples,
    };
  }

  private read(): EventLoopDelay {
    const h = this.histogram;
    if (h.count === 0) return { maxMs: 0, p99Ms: 0, meanMs: 0, samples: 0 };
    const ms = (ns: number) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 10) / 10);
    return { maxMs: ms(h.max), p99Ms: ms(h.percentile(99)), meanMs: ms(h.mean), samples: h.count };
  }
}
