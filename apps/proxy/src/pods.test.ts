import { FakeClock, metricSum } from '@pdrouter/testkit';
import { describe, expect, it } from 'vitest';
import type { HealthConfig } from './config.ts';
import { silentLogger } from './logger.ts';
import { ProxyMetrics } from './metrics.ts';
import { classifyOutcome } from './outcome.ts';
import { PodRegistry } from './pods.ts';

const HEALTH: HealthConfig = {
  breaker: {
    enabled: true,
    failureThreshold: 3,
    successThreshold: 2,
    openMs: 1000,
    maxOpenMs: 16_000,
    windowMs: 60_000,
  },
  probePath: '/health',
  probeTimeoutMs: 1000,
  probeIntervalMs: 500,
  probeFailureThreshold: 2,
  probeSuccessThreshold: 2,
};
const POD = 'http://10.0.0.1:8000';
const FAIL = classifyOutcome({ kind: 'status', status: 500 });
const OK = classifyOutcome({ kind: 'status', status: 200 });
const CLIENT_ERROR = classifyOutcome({ kind: 'status', status: 400 });

function registry(config: Partial<HealthConfig> = {}) {
  const clock = new FakeClock();
  const metrics = new ProxyMetrics({ defaultMetrics: false });
  const pods = new PodRegistry({
    config: { ...HEALTH, ...config },
    metrics,
    logger: silentLogger,
    clock,
    random: () => 0.5,
  });
  pods.setMembers([POD]);
  return { clock, metrics, pods, pod: pods.get(POD) };
}

async function metric(metrics: ProxyMetrics, name: string, labels: Record<string, string>): Promise<number> {
  return metricSum(await metrics.text(), name, labels);
}

describe('PodRegistry: circuit breaker fed by traffic', () => {
  it('takes a pod out after --cb-failure-threshold pod faults; client errors never count', () => {
    const { pods, pod } = registry();
    for (let i = 0; i < 10; i++) pods.record(pod, CLIENT_ERROR, 'client_error');
    pods.record(pod, FAIL, 'status_5xx');
    pods.record(pod, FAIL, 'status_5xx');
    expect(pods.isEjected(POD)).toBe(false);
    pods.record(pod, FAIL, 'status_5xx');
    expect(pods.isEjected(POD)).toBe(true);
    expect(pods.ejectedPods()).toEqual([POD]);
    expect(pods.snapshot()[0]).toMatchObject({ circuit: 'open', ejected: true, probeHealthy: true });
  });

  it('a pod whose probes pass but whose inference fails is never re-admitted on probes; its open period grows', async () => {
    const { pods, pod, clock, metrics } = registry();
    for (let i = 0; i < 3; i++) pods.record(pod, FAIL, 'status_5xx');
    const periods: number[] = [];
    for (let round = 0; round < 4; round++) {
      periods.push(pod.breaker.openedForMs);
      // Probes keep passing all along: they do not end the open period early.
      for (let i = 0; i < 4; i++) pods.probed(POD, true);
      clock.advance(pod.breaker.openedForMs - 1);
      expect(pods.isEjected(POD)).toBe(true);
      clock.advance(1);
      // Half-open: one trial of real traffic, which fails again.
      expect(pod.breaker.state).toBe('half_open');
      expect(pods.isEjected(POD)).toBe(false);
      pods.acquire(pod);
      expect(pods.isEjected(POD)).toBe(true);
      pods.release(pod);
      pods.record(pod, FAIL, 'status_5xx');
      expect(pod.breaker.state).toBe('open');
    }
    expect(periods).toEqual([1000, 2000, 4000, 8000]);
    expect(await metric(metrics, 'pdrouter_readmissions_total', { worker: POD })).toBe(0);
    expect(await metric(metrics, 'vllm_router_cb_state_transitions_total', { from: 'half_open', to: 'open' })).toBe(4);
    expect(await metric(metrics, 'vllm_router_cb_state', { worker: POD })).toBe(1);
  });

  it('closes after --cb-success-threshold successful trials, and the open period starts over', async () => {
    const { pods, pod, clock, metrics } = registry();
    pods.record(
      pod,
      classifyOutcome({ kind: 'transport', failure: { kind: 'first_byte_timeout', timeout: true, message: 'x' } }),
      'first_byte_timeout',
    );
    expect(pod.breaker.state).toBe('open');
    clock.advance(1000);
    expect(await metric(metrics, 'vllm_router_cb_state', { worker: POD })).toBe(2);
    pods.record(pod, OK, 'ok');
    expect(pod.breaker.state).toBe('half_open');
    pods.record(pod, OK, 'ok');
    expect(pod.breaker.state).toBe('closed');
    expect(pods.isEjected(POD)).toBe(false);
    expect(await metric(metrics, 'pdrouter_readmissions_total', { worker: POD })).toBe(1);
    expect(await metric(metrics, 'vllm_router_cb_outcomes_total', { worker: POD, outcome: 'success' })).toBe(2);
    expect(await metric(metrics, 'vllm_router_cb_outcomes_total', { worker: POD, outcome: 'failure' })).toBe(1);
  });

  it('never takes a pod out on traffic with --disable-circuit-breaker, and tracks in-flight legs', () => {
    const { pods, pod } = registry({ breaker: { ...HEALTH.breaker, enabled: false } });
    for (let i = 0; i < 10; i++) pods.record(pod, FAIL, 'x');
    expect(pods.isEjected(POD)).toBe(false);
    pods.acquire(pod);
    pods.acquire(pod);
    pods.release(pod);
    expect(pods.inFlight(POD)).toBe(1);
  });
});

describe('PodRegistry: active health probes', () => {
  it('takes a pod out after --health-failure-threshold failed probes in a row', () => {
    const { pods } = registry();
    pods.probed(POD, false);
    pods.probed(POD, true);
    pods.probed(POD, false);
    expect(pods.isEjected(POD)).toBe(false);
    pods.probed(POD, false);
    expect(pods.isEjected(POD)).toBe(true);
    expect(pods.snapshot()[0]).toMatchObject({ probeHealthy: false, circuit: 'open' });
  });

  it('after --health-success-threshold passing probes the pod is only half-open: real traffic closes it', () => {
    const { pods, pod, clock } = registry();
    pods.probed(POD, false);
    pods.probed(POD, false);
    clock.advance(5000);
    // Open period over, but the probes still fail: stays out.
    expect(pods.isEjected(POD)).toBe(true);
    pods.probed(POD, true);
    expect(pods.isEjected(POD)).toBe(true);
    pods.probed(POD, true);
    expect(pod.breaker.state).toBe('half_open');
    expect(pods.isEjected(POD)).toBe(false);
    pods.record(pod, OK, 'ok');
    pods.record(pod, OK, 'ok');
    expect(pod.breaker.state).toBe('closed');
  });

  it('with --disable-circuit-breaker the probes alone take a pod out and bring it back', () => {
    const { pods } = registry({ breaker: { ...HEALTH.breaker, enabled: false } });
    pods.probed(POD, false);
    pods.probed(POD, false);
    expect(pods.isEjected(POD)).toBe(true);
    pods.probed(POD, true);
    pods.probed(POD, true);
    expect(pods.isEjected(POD)).toBe(false);
  });
});

describe('PodRegistry membership', () => {
  it("drops a departed pod's state and every metric series of it once it is idle", async () => {
    const { pods, pod, metrics } = registry();
    const other = 'http://10.0.0.2:8000';
    pods.setMembers([POD, other]);
    pod.counters.prefillRequests++;
    pods.record(pod, FAIL, 'x');
    pods.record(pod, FAIL, 'x');
    pods.record(pod, FAIL, 'x');
    pods.acquire(pod);
    // Still busy when it leaves: kept until its leg ends and the next membership comes.
    pods.setMembers([other]);
    expect((await metrics.text()).includes(`worker="${POD}"`)).toBe(true);
    pods.release(pod);
    pods.setMembers([other]);
    const text = await metrics.text();
    expect(text.includes(`worker="${POD}"`)).toBe(false);
    expect(text.includes(`worker="${other}"`)).toBe(true);
    expect(pods.snapshot().map((p) => p.url)).toEqual([other]);
    pods.close();
  });

  it('changeMembers leaves the state setMembers leaves: members, active workers, departed pods dropped once idle', async () => {
    const urls = Array.from({ length: 6 }, (_, i) => `http://10.0.1.${i}:8000`);
    const whole = registry();
    const delta = registry();
    const active = async (r: ReturnType<typeof registry>) => metric(r.metrics, 'vllm_router_active_workers', {});
    const steps: [string[], string[]][] = [
      [urls.slice(0, 4), []],
      [[urls[4] as string], [POD]],
      [[], [urls[0] as string]],
      [[urls[5] as string, urls[0] as string], [urls[1] as string]],
    ];
    let current = new Set([POD]);
    for (const [i, [joined, left]] of steps.entries()) {
      for (const url of left) current.delete(url);
      for (const url of joined) current.add(url);
      current = new Set(current);
      whole.pods.setMembers(current);
      delta.pods.changeMembers(joined, left);
      if (i === 0) {
        // One member's circuit open, another busy when it leaves.
        for (const r of [whole, delta]) {
          const p = r.pods.get(urls[2] as string);
          for (let k = 0; k < 3; k++) r.pods.record(p, FAIL, 'x');
          r.pods.acquire(r.pods.get(urls[0] as string));
        }
      }
      expect(delta.pods.memberUrls().sort()).toEqual(whole.pods.memberUrls().sort());
      expect(
        delta.pods
          .snapshot()
          .map((p) => p.url)
          .sort(),
      ).toEqual(
        whole.pods
          .snapshot()
          .map((p) => p.url)
          .sort(),
      );
      expect(await active(delta)).toBe(await active(whole));
    }
    // The busy leaver went and came back: still there, circuit state and all.
    for (const r of [whole, delta]) r.pods.release(r.pods.get(urls[0] as string));
    whole.pods.setMembers(current);
    delta.pods.changeMembers([], []);
    expect(delta.pods.snapshot()).toEqual(whole.pods.snapshot());
    expect(await active(delta)).toBe(current.size - 1);
    // State made for a pod the snapshot no longer has (a leg picked from the table before): dropped once idle.
    delta.pods.get('http://10.0.9.9:8000');
    delta.pods.changeMembers([], []);
    expect(delta.pods.snapshot().map((p) => p.url)).not.toContain('http://10.0.9.9:8000');
    whole.pods.close();
    delta.pods.close();
  });
});
