import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelayMs } from './backoff.ts';

describe('backoff', () => {
  it('grows by the multiplier from initialMs and stops at maxMs', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000, multiplier: 3, jitterFactor: 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 300, 900, 1_000, 1_000]);
    expect(b.attempts).toBe(5);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('jitters within +-jitterFactor of the base, drawn from the injected random, never above maxMs', () => {
    const o = { initialMs: 1_000, maxMs: 8_000, multiplier: 2, jitterFactor: 0.25 };
    expect(backoffDelayMs(1, { ...o, random: () => 0 })).toBe(750);
    expect(backoffDelayMs(1, { ...o, random: () => 0.5 })).toBe(1_000);
    expect(backoffDelayMs(1, { ...o, random: () => 0.999_999 })).toBe(1_250);
    expect(backoffDelayMs(3, { ...o, random: () => 0 })).toBe(3_000);
    // At the cap the upper half of the jitter is clipped, the lower half still spreads replicas.
    expect(backoffDelayMs(10, { ...o, random: () => 0.999_999 })).toBe(8_000);
    expect(backoffDelayMs(10, { ...o, random: () => 0 })).toBe(6_000);
  });

  it('spreads replicas that fail together: real random draws differ', () => {
    const o = { initialMs: 1_000, maxMs: 10_000, multiplier: 2, jitterFactor: 0.5 };
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelayMs(2, o)));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) expect(d >= 1_000 && d <= 3_000).toBe(true);
  });

  it('refuses options that make no backoff', () => {
    expect(() => new Backoff({ initialMs: 10, maxMs: 5, multiplier: 2, jitterFactor: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 10, maxMs: 50, multiplier: 0.5, jitterFactor: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ initialMs: 10, maxMs: 50, multiplier: 2, jitterFactor: 2 })).toThrow(RangeError);
  });
});
