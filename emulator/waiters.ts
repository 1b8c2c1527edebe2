// Event-driven waiting for the network fakes: a test awaits a condition, and the fake
// re-checks every pending condition whenever its state changes. No polling, no sleeps.

export const DEFAULT_WAIT_MS = 5_000;

interface Pending {
  probe: () => boolean;
}

export class Waiters {
  private readonly pending = new Set<Pending>();

  // Resolves with the first non-undefined result of `probe`, checked now and after every
  // notify(). `describe` is evaluated only on timeout, so failures say what was seen.
  until<T>(probe: () => T | undefined, timeoutMs: number, describe: () => string): Promise<T> {
    const first = probe();
    if (first !== undefined) return Promise.resolve(first);
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = {
        probe: () => {
          const value = probe();
          if (value === undefined) return false;
          clearTimeout(timer);
          resolve(value);
          return true;
        },
      };
      const timer = setTimeout(() => {
        this.pending.delete(entry);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`));
      }, timeoutMs);
      this.pending.add(entry);
    });
  }

  // Re-checks waiters in registration order, so two waiters for the same kind of
  // message get successive matches in the order they asked.
  notify(): void {
    for (const entry of [...this.pending]) {
      if (entry.probe()) this.pending.delete(entry);
    }
  }
}

// Cursor semantics shared by both fakes: each call returns the first matching message not
// yet returned by an earlier call, whether it arrived before or after the call.
export class MessageLog<T extends object> {
  readonly items: T[] = [];
  private readonly returned = new WeakSet<T>();
  private readonly waiters = new Waiters();

  push(item: T): void {
    this.items.push(item);
    this.waiters.notify();
  }

  // Wakes waiters whose condition depends on state other than the log itself.
  notify(): void {
    this.waiters.notify();
  }

  waitFor(match: (item: T) => boolean, timeoutMs: number, what: string, summary: (item: T) => string): Promise<T> {
    // Items skipped once never match later (consumed stays consumed, predicates are pure),
    // so each waiter scans from where it stopped instead of from the start.
    let from = 0;
    return this.waiters.until(
      () => {
        for (; from < this.items.length; from++) {
          const item = this.items[from];
          if (this.returned.has(item) || !match(item)) continue;
          this.returned.add(item);
          return item;
        }
        return undefined;
      },
      timeoutMs,
      () => `${what}; received so far: [${runLengths(this.items.map(summary))}]`,
    );
  }

  until<R>(probe: () => R | undefined, timeoutMs: number, describe: () => string): Promise<R> {
    return this.waiters.until(probe, timeoutMs, describe);
  }
}

// Collapses repeats ("media x250") so a timeout message stays readable on a long call.
function runLengths(names: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < names.length;) {
    let j = i + 1;
    while (j < names.length && names[j] === names[i]) j++;
    out.push(j - i > 1 ? `${names[i]} x${j - i}` : names[i]);
    i = j;
  }
  return out.join(', ');
}
