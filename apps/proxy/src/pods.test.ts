import { waitUntil } from '@pdrouter/testkit';
import { describe, expect, it } from 'vitest';
import { silentLogger } from './logger.ts';
import { ProxyMetrics } from './metrics.ts';
import { PodRegistry } from './pods.ts';

const HEALTH = {
  enabled: true,
  ejectAfterFailures: 3,
  probeBaseMs: 20,
  probeMaxMs: 80,
  probePath: '/health',
  probeTimeoutMs: 1000,
};
const POD = 'http://10.0.0.1:8000';

describe('PodRegistry passive health', () => {
  it('ejects after N consecutive failures, probes with backoff, re-admits on a healthy probe', async () => {
    const probes: number[] = [];
    let healthy = false;
    const registry = new PodRegistry({
      config: HEALTH,
      metrics: new ProxyMetrics({ defaultMetrics: false }),
      logger: silentLogger,
      probe: async () => {
        probes.push(Date.now());
        return healthy;
      },
    });
    registry.setMembers([POD]);
    const pod = registry.get(POD);
    registry.recordFailure(pod, 'connect_refused');
    registry.recordFailure(pod, 'connect_refused');
    registry.recordSuccess(pod);
    registry.recordFailure(pod, 'connect_refused');
    registry.recordFailure(pod, 'connect_refused');
    expect(registry.isEjected(POD)).toBe(false);
    registry.recordFailure(pod, 'status_5xx');
    expect(registry.isEjected(POD)).toBe(true);
    expect(registry.ejectedPods()).toEqual([POD]);

    await waitUntil(() => probes.length >= 3, { intervalMs: 5, description: 'three probes' });
    // Backoff: the gaps grow (20 -> 40 -> 80 ms, timers permitting).
    const gap1 = (probes[1] as number) - (probes[0] as number);
    const gap2 = (probes[2] as number) - (probes[1] as number);
    expect(gap2).toBeGreaterThanOrEqual(gap1 - 5);
    healthy = true;
    await waitUntil(() => !registry.isEjected(POD), { intervalMs: 5, description: 're-admission' });
    expect(pod.consecutiveFailures).toBe(0);
    registry.close();
  });

  it('does not eject when passive health is off, and tracks in-flight legs', () => {
    const registry = new PodRegistry({
      config: { ...HEALTH, enabled: false },
      metrics: new ProxyMetrics({ defaultMetrics: false }),
      logger: silentLogger,
      probe: async () => true,
    });
    registry.setMembers([POD]);
    const pod = registry.get(POD);
    for (let i = 0; i < 10; i++) registry.recordFailure(pod, 'x');
    expect(registry.isEjected(POD)).toBe(false);
    registry.acquire(pod);
    registry.acquire(pod);
    registry.release(pod);
    expect(registry.inFlight(POD)).toBe(1);
    registry.close();
  });

  it("drops a departed pod's state and every metric series of it once it is idle", async () => {
    const metrics = new ProxyMetrics({ defaultMetrics: false });
    const registry = new PodRegistry({ config: HEALTH, metrics, logger: silentLogger, probe: async () => true });
    const other = 'http://10.0.0.2:8000';
    registry.setMembers([POD, other]);
    const pod = registry.get(POD);
    pod.metrics.prefillRequests.inc();
    pod.metrics.decodeRequests.inc();
    pod.metrics.streamErrors.inc();
    registry.acquire(pod);
    // Still busy when it leaves: kept until its leg ends and the next membership comes.
    registry.setMembers([other]);
    expect((await metrics.registry.metrics()).includes(`worker="${POD}"`)).toBe(true);
    registry.release(pod);
    registry.setMembers([other]);
    const text = await metrics.registry.metrics();
    expect(text.includes(`worker="${POD}"`)).toBe(false);
    expect(text.includes(`worker="${other}"`)).toBe(true);
    expect(registry.snapshot().map((p) => p.url)).toEqual([other]);
    registry.close();
  });
});
