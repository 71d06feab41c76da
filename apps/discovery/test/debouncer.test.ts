import { FakeClock } from '@pdrouter/testkit';
import { describe, expect, it } from 'vitest';
import { Debouncer } from '../src/index.ts';

describe('Debouncer (fake clock)', () => {
  it('turns a burst into one call when the window closes, and does not extend the window', () => {
    const clock = new FakeClock();
    const calls: number[] = [];
    const d = new Debouncer(500, () => calls.push(clock.now()), clock);
    const t0 = clock.now();
    d.trigger();
    clock.advance(200);
    d.trigger();
    clock.advance(299);
    d.trigger();
    expect(calls).toEqual([]);
    clock.advance(1);
    expect(calls).toEqual([t0 + 500]);
    // A steady stream still yields a call per window.
    for (let i = 0; i < 10; i++) {
      d.trigger();
      clock.advance(100);
    }
    expect(calls.map((t) => t - t0)).toEqual([500, 1_000, 1_500]);
  });

  it('cancel() drops the pending call', () => {
    const clock = new FakeClock();
    let calls = 0;
    const d = new Debouncer(50, () => calls++, clock);
    d.trigger();
    d.cancel();
    clock.advance(1_000);
    expect(calls).toBe(0);
    d.trigger();
    clock.advance(50);
    expect(calls).toBe(1);
  });
});
