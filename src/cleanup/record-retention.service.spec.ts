import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadAppConfig } from '../config/app-config';
import type { RecordsDb } from '../records/records-database';
import { RecordsRepository } from '../records/records.repository';
import type { RecordsStore } from '../records/records-store.service';
import { RecordRetention } from './record-retention.service';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.parse('2026-12-01T12:00:00Z');

/** The little of RecordsStore the retention reads: a database that opens when the test says. */
function store() {
  const listeners: (() => void)[] = [];
  const fake = {
    enabled: true,
    state: 'opening' as string,
    db: {} as RecordsDb,
    whenOpen(listener: () => void) {
      if (fake.state === 'open') listener();
      else listeners.push(listener);
    },
    open() {
      fake.state = 'open';
      for (const listener of listeners.splice(0)) listener();
    },
  };
  return fake;
}

/** `found`: how many calls each delete statement finds, in turn (then none). */
function setup(days: string, found: number[]) {
  const scheduler = new SchedulerRegistry();
  const db = store();
  const retention = new RecordRetention(db as unknown as RecordsStore, loadAppConfig({ CALL_RETENTION_DAYS: days }), scheduler);
  // What each statement asked to delete.
  const deletes: { startedBefore: string; limit?: number }[] = [];
  vi.spyOn(RecordsRepository, 'deleteCalls').mockImplementation(async (_db, which) => {
    if (!('startedBefore' in which)) throw new Error('retention deletes by age');
    deletes.push({ startedBefore: which.startedBefore.toISOString(), limit: which.limit });
    return found.shift() ?? 0;
  });
  const logged = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  return { scheduler, db, retention, deletes, logged };
}

describe('RecordRetention', () => {
  beforeEach(() => vi.useFakeTimers({ now: T0 }));
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('registers its hourly job, sweeps once the database is open and then every hour, in chunks; stops with the module', async () => {
    const { scheduler, db, retention, deletes, logged } = setup('7', [200, 3, 3, 3]);
    retention.onModuleInit();
    expect(scheduler.getIntervals()).toEqual(['record-retention']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(deletes).toEqual([]); // the database is not open yet

    db.open();
    await vi.advanceTimersByTimeAsync(0);
    const cutoff = (at: number) => new Date(at - 7 * DAY).toISOString();
    // A full chunk (200), so another statement at once; a short one (3) ends the start-up sweep.
    expect(deletes).toEqual([
      { startedBefore: cutoff(T0 + 1000), limit: 200 },
      { startedBefore: cutoff(T0 + 1000), limit: 200 },
    ]);
    expect(logged).toHaveBeenCalledWith('deleted 203 call record(s) older than 7 day(s)');

    await vi.advanceTimersByTimeAsync(HOUR - 1001);
    expect(deletes).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(deletes.slice(2)).toEqual([{ startedBefore: cutoff(T0 + HOUR), limit: 200 }]);
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(deletes.slice(3)).toEqual([{ startedBefore: cutoff(T0 + 2 * HOUR), limit: 200 }]);

    retention.onModuleDestroy();
    expect(scheduler.doesExist('interval', 'record-retention')).toBe(false);
    await vi.advanceTimersByTimeAsync(3 * HOUR);
    expect(deletes).toHaveLength(4);
  });

  it('CALL_RETENTION_DAYS=0 keeps everything: no job registered, nothing deleted, not even by a direct sweep', async () => {
    const { scheduler, db, retention, deletes } = setup('0', []);
    retention.onModuleInit();
    db.open();
    expect(scheduler.getIntervals()).toEqual([]);
    await vi.advanceTimersByTimeAsync(3 * HOUR);
    expect(await retention.sweep(T0 + 365 * DAY)).toBe(0);
    expect(deletes).toEqual([]);
    retention.onModuleDestroy(); // nothing to remove, and no error for it
  });

  it('a failed sweep is logged and the next hour tries again', async () => {
    const { db, retention, deletes } = setup('30', [3]);
    const refused = new Error('connection refused');
    const failing = vi.spyOn(RecordsRepository, 'deleteCalls').mockRejectedValueOnce(refused);
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    retention.onModuleInit();
    db.open();
    await vi.advanceTimersByTimeAsync(0);
    expect(failing).toHaveBeenCalledTimes(1);
    expect(deletes).toEqual([]);
    expect(warn).toHaveBeenCalledWith({ err: refused }, expect.stringContaining('retention sweep failed'));
    await vi.advanceTimersByTimeAsync(HOUR);
    expect(deletes).toEqual([{ startedBefore: new Date(T0 + HOUR - 30 * DAY).toISOString(), limit: 200 }]);
    retention.onModuleDestroy();
  });
});
