import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { boundedLoadCap, pickBoundedLoad } from './bounded-load.ts';

describe('pickBoundedLoad', () => {
  test('takes the ring owner while it is under the cap', () => {
    const load: Record<string, number> = { a: 1, b: 1, c: 1 };
    expect(pickBoundedLoad(['a', 'b', 'c'], (m) => load[m] ?? 0, 1.25)).toBe('a');
  });

  test('skips an overloaded owner to the next member in walk order', () => {
    // total 20 over 3 members: cap = ceil(1.25 * 21 / 3) = 9, so a and b (10 each) are full.
    const load: Record<string, number> = { a: 10, b: 10, c: 0 };
    expect(boundedLoadCap(20, 3, 1.25)).toBe(9);
    expect(pickBoundedLoad(['a', 'b', 'c'], (m) => load[m] ?? 0, 1.25)).toBe('c');
  });

  test('an empty walk has no choice; broken counters count as idle', () => {
    expect(pickBoundedLoad([], () => 0, 1.25)).toBeUndefined();
    expect(pickBoundedLoad(['a', 'b'], (m) => (m === 'a' ? Number.NaN : 3), 1)).toBe('a');
  });

  test('never exceeds its cap, and the cap always leaves a member', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 500 }), { minLength: 1, maxLength: 20 }),
        fc.double({ min: 1, max: 3, noNaN: true }),
        (loads, factor) => {
          const walk = loads.map((_, i) => `m${i}`);
          const inFlight = (m: string) => loads[Number(m.slice(1))] ?? 0;
          const chosen = pickBoundedLoad(walk, inFlight, factor);
          expect(chosen).toBeDefined();
          const total = loads.reduce((a, b) => a + b, 0);
          const cap = boundedLoadCap(total, walk.length, factor);
          expect(inFlight(chosen as string) + 1).toBeLessThanOrEqual(cap);
          // Every member before the chosen one in walk order was at its cap.
          for (const m of walk.slice(0, walk.indexOf(chosen as string))) expect(inFlight(m) + 1).toBeGreaterThan(cap);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('keeps every member within the cap under a stream of assignments', () => {
    const walk = ['a', 'b', 'c', 'd'];
    const load = new Map(walk.map((m) => [m, 0]));
    for (let i = 0; i < 1000; i++) {
      // Every request prefers 'a' (the same key), so only the bound spreads them.
      const chosen = pickBoundedLoad(walk, (m) => load.get(m) ?? 0, 1.25) as string;
      load.set(chosen, (load.get(chosen) ?? 0) + 1);
      const total = i + 1;
      for (const v of load.values()) expect(v).toBeLessThanOrEqual(Math.ceil((1.25 * total) / walk.length));
    }
  });
});
