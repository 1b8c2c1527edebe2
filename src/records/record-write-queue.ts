export type WriteOutcome = 'written' | 'failed' | 'dropped';

export interface WriteQueueOptions {
  /** Writes held at most; a push beyond it is dropped (never waits). */
  maxSize: number;
  /** Time from the first queued write to its flush (writes arriving meanwhile join the batch). */
  flushIntervalMs: number;
  /** Writes per batch (one transaction). */
  batchSize: number;
  /** A batch whose write fails is tried this many times in all before it counts as failed. */
  maxAttempts: number;
  /** Wait before retrying a failed batch (doubles per attempt). */
  retryDelayMs: number;
  /** A batch write still pending after this long counts as failed and is not retried (it may yet land). */
  timeoutMs: number;
}

export class WriteTimeoutError extends Error {}

/**
 * A bounded in-memory queue of writes, flushed in batches by one writer at a time. `push` is O(1)
 * and never blocks, whatever the database does: a full queue drops, a failing database costs
 * retries and then counts. Timers are unref'd; `drain` empties it on shutdown (with a deadline).
 */
export class RecordWriteQueue<T> {
  private items: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly write: (batch: T[]) => Promise<void>,
    private readonly options: WriteQueueOptions,
    private readonly report: (outcome: WriteOutcome, count: number, err?: unknown) => void,
  ) {}

  get length(): number {
    return this.items.length;
  }

  /** Queues one write; false (and counted as dropped) when the queue is full or closed. */
  push(item: T): boolean {
    if (this.closed || this.items.length >= this.options.maxSize) {
      this.report('dropped', 1);
      return false;
    }
    this.items.push(item);
    this.schedule(this.options.flushIntervalMs);
    return true;
  }

  /**
   * Flushes until the queue is empty or `deadlineMs` (epoch ms) passes; later pushes are dropped.
   * Returns true when everything was flushed.
   */
  async drain(deadlineMs: number): Promise<boolean> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    while (Date.now() < deadlineMs) {
      if (this.flushing) await withDeadline(this.flushing, deadlineMs);
      else if (this.items.length > 0) await withDeadline(this.flush(false), deadlineMs);
      else return true;
    }
    return this.items.length === 0 && !this.flushing;
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.flushing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush(true);
    }, delayMs);
    this.timer.unref();
  }

  private flush(retry: boolean): Promise<void> {
    const batch = this.items.splice(0, this.options.batchSize);
    const run = this.writeWithRetries(batch, retry ? this.options.maxAttempts : 1).finally(() => {
      this.flushing = null;
      if (this.items.length > 0 && !this.closed) this.schedule(this.items.length >= this.options.batchSize ? 0 : this.options.flushIntervalMs);
    });
    this.flushing = run;
    return run;
  }

  private async writeWithRetries(batch: T[], attempts: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.writeWithTimeout(batch);
        this.report('written', batch.length);
        return;
      } catch (err) {
        if (err instanceof WriteTimeoutError || attempt >= attempts || this.closed) {
          this.report('failed', batch.length, err);
          return;
        }
        await sleep(this.options.retryDelayMs * 2 ** (attempt - 1));
      }
    }
  }

  private async writeWithTimeout(batch: T[]): Promise<void> {
    // A writer that throws at once (no database) fails like one that rejects, before any timer exists.
    const writing = this.write(batch);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WriteTimeoutError(`record write took longer than ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      timer.unref();
    });
    return Promise.race([writing, timeout]).finally(() => clearTimeout(timer));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Waits for `promise`, or until the deadline, whichever comes first (never rejects). */
export function withDeadline(promise: Promise<unknown>, deadlineMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadlineMs - Date.now())))),
  ]).finally(() => clearTimeout(timer));
}
