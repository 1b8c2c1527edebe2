import { describe, expect, it } from 'vitest';
import { nextAttempt } from './post-call-webhook.service';

const HOUR = 3_600_000;
const DAY_S = 86_400;

describe('post-call webhook retry timing', () => {
  it('doubles the delay per failed attempt from the base, up to an hour', () => {
    const created = 0;
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((attempts) => (nextAttempt(attempts, created, 1000, 10_000, DAY_S) as number) - 1000);
    expect(delays).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 1_280_000, 2_560_000, HOUR, HOUR, HOUR]);
  });

  it('retries for up to a day after the call, the last attempt at the deadline, then gives up', () => {
    const created = 1_000_000;
    const deadline = created + DAY_S * 1000;
    expect(nextAttempt(20, created, deadline - 60_000, 10_000, DAY_S)).toBe(deadline);
    expect(nextAttempt(21, created, deadline, 10_000, DAY_S)).toBe('give-up');
    expect(nextAttempt(1, created, deadline + 1, 10_000, DAY_S)).toBe('give-up');
  });

  it('a day of failures is about 30 attempts with the defaults (10 s base, one hour at most)', () => {
    let now = 0;
    let attempts = 0;
    for (;;) {
      attempts++;
      const next = nextAttempt(attempts, 0, now, 10_000, DAY_S);
      if (next === 'give-up') break;
      now = next;
    }
    expect(attempts).toBeGreaterThan(25);
    expect(attempts).toBeLessThan(35);
  });
});
