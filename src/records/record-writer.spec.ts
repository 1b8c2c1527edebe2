import { Logger } from '@nestjs/common';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadAppConfig } from '../config/app-config';
import type { MetricsService } from '../metrics/metrics.service';
import { WriteTimeoutError } from './record-write-queue';
import { RecordWriter } from './record-writer.service';
import type { RecordsDb } from './records-database';
import { RecordsMetrics } from './records-metrics.service';
import { RecordsRepository, type RecordWrite } from './records.repository';
import type { RecordsStore } from './records-store.service';

const FLUSH_MS = 1000;
const TIMEOUT_MS = 10_000;

const write = (seq: number): RecordWrite => ({
  kind: 'event',
  row: { callSid: 'CA00000000000000000000000000000001', seq, at: new Date(), offsetMs: 0, type: 'barge_in', data: {} },
});

/** The writer with a queue of 100, in front of a database the test stalls and releases. */
function setup() {
  const registry = new Registry();
  const metrics = new RecordsMetrics({ registry } as MetricsService);
  const db = {} as RecordsDb;
  const store = { enabled: true, db, ready: async () => db } as RecordsStore;
  const config = loadAppConfig({ RECORDS_QUEUE_MAX: '100', RECORDS_FLUSH_MS: String(FLUSH_MS), RECORDS_WRITE_TIMEOUT_MS: String(TIMEOUT_MS) });
  const database = { stalled: false, written: 0 };
  vi.spyOn(RecordsRepository, 'applyBatch').mockImplementation(async (_db, batch) => {
    if (database.stalled) return new Promise<void>(() => undefined); // never answers
    database.written += batch.length;
  });
  const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  const log = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  const writer = new RecordWriter(store, config, metrics);
  /** voice_agent_record_writes_total by outcome, as GET /metrics reads it. */
  const counted = async () => {
    const { values } = await registry.getSingleMetric('voice_agent_record_writes_total')!.get();
    return Object.fromEntries(values.map((v) => [v.labels.outcome, v.value]));
  };
  const queueLength = async () => (await registry.getSingleMetric('voice_agent_record_queue_length')!.get()).values[0].value;
  return { writer, database, warn, log, counted, queueLength };
}

describe('RecordWriter', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('a full queue in front of a stalled database drops writes and counts them; the burst is logged once, and once more when writes succeed again', async () => {
    const { writer, database, warn, log, counted, queueLength } = setup();
    database.stalled = true;
    for (let i = 0; i < 100; i++) writer.write(write(i));
    await vi.advanceTimersByTimeAsync(FLUSH_MS); // those 100 are now the batch the database holds
    for (let i = 100; i < 350; i++) writer.write(write(i)); // 100 queue up, 150 do not fit
    expect(await counted()).toEqual({ written: 0, failed: 0, dropped: 150 });
    expect(await queueLength()).toBe(100);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(/call-record queue full: writes are being dropped/);

    // The stalled batch times out (failed, not retried): the same burst, no new line.
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    expect(await counted()).toEqual({ written: 0, failed: 100, dropped: 150 });
    expect(writer.health()).toMatchObject({ queued: 100, failed: 100, dropped: 150, failingSince: expect.any(String) });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(log).not.toHaveBeenCalled();

    // The database answers again: the queued writes land, and one line closes the burst.
    database.stalled = false;
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    expect(database.written).toBe(100);
    expect(await counted()).toEqual({ written: 100, failed: 100, dropped: 150 });
    expect(await queueLength()).toBe(0);
    expect(log).toHaveBeenCalledTimes(1);
    expect(log.mock.calls[0][0]).toMatch(/call records are being written again \(100 write\(s\) failed and 150 dropped over 11 s\)/);
    expect(writer.health()).toMatchObject({ queued: 0, written: 100, failingSince: null });
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('each burst is logged once: a new burst of failures gets its own line, with the error as an object', async () => {
    const { writer, database, warn, log, counted } = setup();
    writer.write(write(0));
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    database.stalled = true;
    for (let batch = 0; batch < 3; batch++) {
      for (let i = 0; i < 10; i++) writer.write(write(i));
      await vi.advanceTimersByTimeAsync(FLUSH_MS + TIMEOUT_MS);
    }
    expect(await counted()).toEqual({ written: 1, failed: 30, dropped: 0 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith({ err: expect.any(WriteTimeoutError) }, expect.stringMatching(/call-record writes failed \(10\)/));

    database.stalled = false;
    writer.write(write(99));
    await vi.advanceTimersByTimeAsync(FLUSH_MS);
    expect(log).toHaveBeenCalledTimes(1);
    expect(log.mock.calls[0][0]).toMatch(/being written again \(30 write\(s\) failed and 0 dropped/);
  });
});
