import type { SchedulerRegistry } from '@nestjs/schedule';
import { describe, expect, it } from 'vitest';
import type { CallRegistry } from '../call-gateway/call-registry.service';
import { loadAppConfig } from '../config/app-config';
import { SessionSweeper } from './session-sweeper.service';

/** The few fields the sweeper reads of a live call, and what it does to it. */
function call(callSid: string, fields: { startedAt: number; lastMediaAt: number; modelAlive: boolean }) {
  return {
    callSid,
    ...fields,
    endedWith: null as string | null,
    end(reason: string) {
      this.endedWith = reason;
    },
  };
}

describe('SessionSweeper', () => {
  it('ends calls past the maximum duration, silent ones, and those whose model is gone for good; reports them', () => {
    const now = 1_000_000;
    const config = loadAppConfig({ MEDIA_IDLE_TIMEOUT_S: '60', MAX_CALL_DURATION_S: '600' });
    const calls = [
      call('CAhealthy', { startedAt: now - 30_000, lastMediaAt: now - 20, modelAlive: true }),
      call('CAlong', { startedAt: now - 601_000, lastMediaAt: now - 20, modelAlive: true }),
      call('CAsilent', { startedAt: now - 120_000, lastMediaAt: now - 61_000, modelAlive: true }),
      call('CAnomodel', { startedAt: now - 10_000, lastMediaAt: now - 20, modelAlive: false }),
    ];
    let staleChecked = 0;
    const registry = {
      calls: () => calls.values(),
      dropStaleReservations: () => ++staleChecked && 2,
    } as unknown as CallRegistry;
    const sweeper = new SessionSweeper(registry, config, {} as SchedulerRegistry);
    const report = sweeper.sweep(now);
    expect(report).toEqual({
      ended: [
        { callSid: 'CAlong', reason: 'max-duration' },
        { callSid: 'CAsilent', reason: 'media-timeout' },
        { callSid: 'CAnomodel', reason: 'model-unavailable' },
      ],
      reservationsDropped: 2,
    });
    expect(calls.map((c) => c.endedWith)).toEqual([null, 'max-duration', 'media-timeout', 'model-unavailable']);
    expect(staleChecked).toBe(1);
  });
});
