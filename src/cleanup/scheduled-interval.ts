import type { SchedulerRegistry } from '@nestjs/schedule';

/**
 * Runs `job` every `periodMs`, registered by name with Nest's SchedulerRegistry (not @Interval: the
 * periods come from configuration). Unref'd, so a sweep never keeps a stopping process alive.
 */
export function scheduleInterval(scheduler: SchedulerRegistry, name: string, periodMs: number, job: () => unknown): void {
  const timer = setInterval(() => void job(), periodMs);
  timer.unref();
  scheduler.addInterval(name, timer);
}

/** Stops an interval started by scheduleInterval, if it was. */
export function cancelInterval(scheduler: SchedulerRegistry, name: string): void {
  if (scheduler.doesExist('interval', name)) scheduler.deleteInterval(name);
}
