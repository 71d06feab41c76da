import { FakeClock } from '@pdrouter/testkit';
import { describe, expect, it } from 'vitest';
import { type BreakerSettings, CircuitBreaker } from './circuit-breaker.ts';

const SETTINGS: BreakerSettings = {
  enabled: true,
  failureThreshold: 3,
  successThreshold: 2,
  openMs: 1000,
  maxOpenMs: 8000,
  windowMs: 10_000,
};
/** The middle of the jitter range: open periods are exactly 1 s, 2 s, 4 s... */
const NO_JITTER = () => 0.5;

function breaker(overrides: Partial<BreakerSettings> = {}) {
  const clock = new FakeClock();
  return { clock, cb: new CircuitBreaker({ ...SETTINGS, ...overrides }, clock.now, NO_JITTER) };
}

describe('CircuitBreaker', () => {
  it('opens after --cb-failure-threshold failures in a row; a success in between starts the count again', () => {
    const { cb } = breaker();
    cb.failure();
    cb.failure();
    cb.success();
    cb.failure();
    cb.failure();
    expect(cb.state).toBe('closed');
    expect(cb.failure()).toEqual({ from: 'closed', to: 'open', reason: 'failures' });
    expect(cb.state).toBe('open');
  });

  it('does not add up failures further apart than --cb-window-duration-secs', () => {
    const { cb, clock } = breaker({ windowMs: 5000 });
    cb.failure();
    clock.advance(3000);
    cb.failure();
    clock.advance(3000);
    // The first failure is now 6 s old: only two count.
    cb.failure();
    expect(cb.state).toBe('closed');
    expect(cb.failures).toBe(2);
    clock.advance(1000);
    cb.failure();
    expect(cb.state).toBe('open');
  });

  it('opens at once on a trip (a pod stalling until the first-byte timeout)', () => {
    const { cb } = breaker();
    expect(cb.failure(true)?.reason).toBe('stalled');
  });

  it('goes half-open only once --cb-timeout-duration-secs passed, and --cb-success-threshold successes close it', () => {
    const { cb, clock } = breaker();
    cb.failure(true);
    expect(cb.halfOpen('early')).toBeUndefined();
    clock.advance(999);
    expect(cb.openElapsed()).toBe(false);
    clock.advance(1);
    expect(cb.halfOpen('open_elapsed')).toEqual({ from: 'open', to: 'half_open', reason: 'open_elapsed' });
    expect(cb.success()).toBeUndefined();
    expect(cb.success()).toEqual({ from: 'half_open', to: 'closed', reason: 'trial_succeeded' });
  });

  it('re-opens on a failed trial for twice as long each time, up to --cb-max-timeout-duration-secs; closing resets it', () => {
    const { cb, clock } = breaker();
    const periods: number[] = [];
    cb.failure(true);
    for (let i = 0; i < 5; i++) {
      periods.push(cb.openedForMs);
      clock.advance(cb.openedForMs);
      cb.halfOpen('open_elapsed');
      expect(cb.failure()).toMatchObject({ from: 'half_open', to: 'open', reason: 'trial_failed' });
    }
    periods.push(cb.openedForMs);
    expect(periods).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    clock.advance(cb.openedForMs);
    cb.halfOpen('open_elapsed');
    cb.success();
    cb.success();
    expect(cb.state).toBe('closed');
    cb.failure(true);
    expect(cb.openedForMs).toBe(1000);
  });

  it('jitters the open period by ±20%', () => {
    const clock = new FakeClock();
    const low = new CircuitBreaker(SETTINGS, clock.now, () => 0);
    const high = new CircuitBreaker(SETTINGS, clock.now, () => 0.999999);
    low.failure(true);
    high.failure(true);
    expect(low.openedForMs).toBe(800);
    expect(high.openedForMs).toBe(1200);
  });

  it('never opens on traffic with --disable-circuit-breaker', () => {
    const { cb } = breaker({ enabled: false });
    for (let i = 0; i < 20; i++) cb.failure(i % 2 === 0);
    expect(cb.state).toBe('closed');
  });

  it('can be opened by failing health probes, and a half-open trial needs real successes', () => {
    const { cb, clock } = breaker();
    expect(cb.forceOpen('health_probes')?.to).toBe('open');
    expect(cb.forceOpen('health_probes')).toBeUndefined();
    clock.advance(1000);
    cb.halfOpen('probes_recovered');
    expect(cb.state).toBe('half_open');
    cb.success();
    expect(cb.state).toBe('half_open');
  });
});
