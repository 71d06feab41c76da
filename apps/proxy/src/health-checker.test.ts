import { FakeClock } from '@pdrouter/testkit';
import { describe, expect, it } from 'vitest';
import type { HealthConfig } from './config.ts';
import { HealthChecker, PROBE_BURST, ROUND_SPREAD_SHARE, waitForPods } from './health-checker.ts';
import { silentLogger } from './logger.ts';
import { ProxyMetrics } from './metrics.ts';
import { PodRegistry } from './pods.ts';

const HEALTH: HealthConfig = {
  breaker: { enabled: true, failureThreshold: 3, successThreshold: 2, openMs: 1000, maxOpenMs: 8000, windowMs: 60_000 },
  probePath: '/health',
  probeTimeoutMs: 1000,
  probeIntervalMs: 10_000,
  probeFailureThreshold: 3,
  probeSuccessThreshold: 2,
};

/** Lets the probes' promises settle between clock steps. */
const settle = () => new Promise((r) => setImmediate(r));

describe('HealthChecker', () => {
  it('probes every member each --health-check-interval-secs and takes a failing pod out at the threshold', async () => {
    const clock = new FakeClock();
    const metrics = new ProxyMetrics({ defaultMetrics: false });
    const pods = new PodRegistry({ config: HEALTH, metrics, logger: silentLogger, clock });
    pods.setMembers(['http://a:1', 'http://b:1']);
    const probed: string[] = [];
    const checker = new HealthChecker({
      registry: pods,
      probe: async (key) => {
        probed.push(key);
        return key === 'http://a:1';
      },
      intervalMs: HEALTH.probeIntervalMs,
      clock,
      metrics,
    });
    checker.start();
    clock.advance(9_999);
    await settle();
    expect(probed).toEqual([]);
    for (let round = 1; round <= 3; round++) {
      clock.advance(round === 1 ? 1 : HEALTH.probeIntervalMs);
      await settle();
      expect(probed.length).toBe(2 * round);
      expect(pods.isEjected('http://b:1')).toBe(round === 3);
    }
    expect(pods.isEjected('http://a:1')).toBe(false);
    checker.close();
    clock.advance(HEALTH.probeIntervalMs * 5);
    await settle();
    expect(probed.length).toBe(6);
  });
});

describe('HealthChecker on a large fleet', () => {
  it('starts PROBE_BURST probes at once and spreads the rest over half the interval, each pod once', async () => {
    const clock = new FakeClock();
    const metrics = new ProxyMetrics({ defaultMetrics: false });
    const pods = new PodRegistry({ config: HEALTH, metrics, logger: silentLogger, clock });
    const members = Array.from({ length: 600 }, (_, i) => `http://10.0.${i >> 8}.${i & 255}:8000`);
    pods.setMembers(members);
    const probed: string[] = [];
    const checker = new HealthChecker({
      registry: pods,
      probe: async (key) => {
        probed.push(key);
        return true;
      },
      intervalMs: HEALTH.probeIntervalMs,
      clock,
      metrics,
    });
    checker.start();
    clock.advance(HEALTH.probeIntervalMs);
    await settle();
    // The burst, and the first spread probe (due at the round's start).
    expect(probed.length).toBe(PROBE_BURST + 1);
    const spreadMs = HEALTH.probeIntervalMs * ROUND_SPREAD_SHARE;
    const gapMs = spreadMs / members.length;
    const step = async (ms: number) => {
      for (let t = 0; t < ms; t++) {
        clock.advance(1);
        await settle();
      }
    };
    await step(1000);
    // One start per gap since the round began, give or take the millisecond steps.
    const expected = PROBE_BURST + 1 + Math.floor(1000 / gapMs);
    expect(probed.length).toBeGreaterThanOrEqual(expected - 1);
    expect(probed.length).toBeLessThanOrEqual(expected + 1);
    await step(spreadMs);
    expect(probed.length).toBe(members.length);
    expect(new Set(probed).size).toBe(members.length);
    checker.close();
  });
});

describe('waitForPods (--worker-startup-timeout-secs, --worker-startup-check-interval)', () => {
  const settings = { timeoutMs: 10_000, checkIntervalMs: 3000 };

  it('checks the pods not yet answering every check interval until one pod of each role answers', async () => {
    const clock = new FakeClock();
    const up = new Set<string>(['p1']);
    const calls: string[] = [];
    const result = waitForPods({
      roles: [['p1', 'p2'], ['d1']],
      probe: async (k) => {
        calls.push(k);
        return up.has(k);
      },
      settings,
      clock,
      metrics: new ProxyMetrics({ defaultMetrics: false }),
      logger: silentLogger,
      signal: new AbortController().signal,
    });
    await settle();
    expect(calls.sort()).toEqual(['d1', 'p1', 'p2']);
    clock.advance(2999);
    await settle();
    expect(calls.length).toBe(3);
    clock.advance(1);
    await settle();
    // The prefill role already answered: only the decode pod is checked again.
    expect(calls.slice(3)).toEqual(['d1']);
    up.add('d1');
    clock.advance(3000);
    expect(await result).toEqual({ ready: true });
  });

  it('gives up after the start-up timeout, naming the pods it waited for', async () => {
    const clock = new FakeClock();
    let probes = 0;
    const result = waitForPods({
      roles: [['w1', 'w2']],
      probe: async () => {
        probes++;
        return false;
      },
      settings,
      clock,
      metrics: new ProxyMetrics({ defaultMetrics: false }),
      logger: silentLogger,
      signal: new AbortController().signal,
    });
    for (let i = 0; i < 5; i++) {
      await settle();
      clock.advanceToNext();
    }
    expect(await result).toEqual({ ready: false, waiting: ['w1', 'w2'] });
    // Checks at 0, 3, 6, 9 and 10 s.
    expect(probes).toBe(10);
  });
});
