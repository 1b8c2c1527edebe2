import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RecordWriteQueue, type WriteOutcome, type WriteQueueOptions } from './record-write-queue';

const OPTIONS: WriteQueueOptions = { maxSize: 5, flushIntervalMs: 100, batchSize: 3, maxAttempts: 3, retryDelayMs: 50, timeoutMs: 1000 };

function setup(write: (batch: number[]) => Promise<void>, options: Partial<WriteQueueOptions> = {}) {
  const outcomes: [WriteOutcome, number][] = [];
  const queue = new RecordWriteQueue<number>(write, { ...OPTIONS, ...options }, (outcome, count) => outcomes.push([outcome, count]));
  return { queue, outcomes };
}

describe('RecordWriteQueue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('holds writes for the flush interval, then writes them in batches, in order', async () => {
    const batches: number[][] = [];
    const { queue, outcomes } = setup(async (batch) => void batches.push(batch), { maxSize: 20 });
    for (let i = 1; i <= 4; i++) queue.push(i);
    await vi.advanceTimersByTimeAsync(99);
    expect(batches).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([[1, 2, 3]]);
    // Less than a batch left: it gathers for another interval. A full batch would go at once.
    await vi.advanceTimersByTimeAsync(100);
    expect(batches).toEqual([[1, 2, 3], [4]]);
    for (let i = 5; i <= 11; i++) queue.push(i);
    await vi.advanceTimersByTimeAsync(100);
    for (let i = 0; i < 5; i++) await vi.advanceTimersByTimeAsync(1); // no interval between full batches (5 ms ≪ 100)
    expect(batches.slice(2)).toEqual([
      [5, 6, 7],
      [8, 9, 10],
    ]);
    await vi.advanceTimersByTimeAsync(100);
    expect(batches.slice(4)).toEqual([[11]]);
    expect(outcomes.slice(0, 2)).toEqual([
      ['written', 3],
      ['written', 1],
    ]);
    expect(queue.length).toBe(0);
  });

  it('push never waits: beyond maxSize writes are dropped and counted, one by one', () => {
    const { queue, outcomes } = setup(() => new Promise(() => undefined));
    const accepted = [1, 2, 3, 4, 5, 6, 7].map((i) => queue.push(i));
    expect(accepted).toEqual([true, true, true, true, true, false, false]);
    expect(outcomes).toEqual([
      ['dropped', 1],
      ['dropped', 1],
    ]);
  });

  it('retries a failed batch with a doubling delay, then counts it as failed and goes on with the next', async () => {
    let calls = 0;
    const seen: number[][] = [];
    const { queue, outcomes } = setup(async (batch) => {
      seen.push(batch);
      if (batch[0] === 1) {
        calls++;
        throw new Error('connection refused');
      }
    });
    queue.push(1);
    await vi.advanceTimersByTimeAsync(100); // first attempt
    expect(calls).toBe(1);
    queue.push(2); // waits behind the batch being retried
    await vi.advanceTimersByTimeAsync(50); // second attempt after 50 ms
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(99);
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(1); // third after 100 ms more
    expect(calls).toBe(3);
    expect(outcomes).toEqual([['failed', 1]]);
    await vi.advanceTimersByTimeAsync(100);
    expect(outcomes).toEqual([
      ['failed', 1],
      ['written', 1],
    ]);
    expect(seen.at(-1)).toEqual([2]);
  });

  it('a writer that throws at once fails like one that rejects (no stray timers or rejections)', async () => {
    const { queue, outcomes } = setup(
      () => {
        throw new Error('no database');
      },
      { maxAttempts: 1 },
    );
    queue.push(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(outcomes).toEqual([['failed', 1]]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a stalled write counts as failed after the timeout, is not retried, and the queue moves on', async () => {
    let calls = 0;
    const { queue, outcomes } = setup((batch) => {
      calls++;
      return batch[0] === 1 ? new Promise(() => undefined) : Promise.resolve();
    });
    queue.push(1);
    await vi.advanceTimersByTimeAsync(100);
    queue.push(2);
    await vi.advanceTimersByTimeAsync(999);
    expect(outcomes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(outcomes).toEqual([['failed', 1]]);
    await vi.advanceTimersByTimeAsync(100);
    expect(outcomes).toEqual([
      ['failed', 1],
      ['written', 1],
    ]);
    expect(calls).toBe(2);
  });

  it('drain flushes everything at once (no interval, no retries) and then refuses new writes', async () => {
    const batches: number[][] = [];
    const { queue, outcomes } = setup(async (batch) => void batches.push(batch));
    for (let i = 1; i <= 5; i++) queue.push(i);
    const drained = queue.drain(Date.now() + 1000);
    await vi.advanceTimersByTimeAsync(0);
    expect(await drained).toBe(true);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(queue.push(6)).toBe(false);
    expect(outcomes.at(-1)).toEqual(['dropped', 1]);
  });

  it('drain gives up at its deadline when the database does not answer', async () => {
    const { queue } = setup(() => new Promise(() => undefined), { timeoutMs: 60_000 });
    queue.push(1);
    const drained = queue.drain(Date.now() + 500);
    await vi.advanceTimersByTimeAsync(500);
    expect(await drained).toBe(false);
  });
});
