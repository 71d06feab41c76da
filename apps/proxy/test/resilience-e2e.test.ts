// Circuit breaker, health probes, retries and the start-up wait end to end against real sim processes:
// a pod whose /health is fine while its inference fails is not re-admitted on /health alone, a pod that
// stalls before its headers stops costing requests the first-byte timeout, and a decode retry re-sends
// the prefill's kv params only when nothing reached the failed pod.
import { runCommand } from '@pdrouter/testkit';
import { request } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import {
  adminState,
  MODEL,
  metricValue,
  PROXY_MAIN,
  type RunningProxy,
  type SimProcess,
  scrape,
  sessionPrompt,
  sessionWalk,
  sumStat,
  waitFor,
} from './helpers.ts';

const e2e = e2eFixture();
let sim: SimProcess;

/** The sim pod names a session's requests go to, in walk order. */
const walkOf = (role: 'prefill' | 'decode', session: string) => sessionWalk(sim, role, session);
const urlOf = (name: string) => sim.pods.find((p) => p.name === name)?.url as string;

async function complete(router: RunningProxy, session: string, body: Record<string, unknown> = {}) {
  const res = await request(`${router.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: sessionPrompt(session), max_tokens: 8, ...body }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, text };
}

interface PodView {
  url: string;
  circuit: string;
  openPeriodMs: number;
  probeHealthy: boolean;
}
async function podState(router: RunningProxy, url: string): Promise<PodView> {
  const state = await adminState<{ pods: PodView[] }>(router.url);
  return state.pods.find((p) => p.url === url) as PodView;
}

/** A P/D proxy over the sim's pods with these flags; stopped after the test. */
const start = (flags: string[]) => e2e.pdProxy(sim, flags);

beforeAll(async () => {
  sim = await e2e.sim({ prefill: 2, decode: 3 });
});

afterEach(async () => {
  await e2e.stopProxies();
  await sim.heal();
});

describe('circuit breaker (issue 11 item 5)', () => {
  it('keeps a pod whose /health passes but whose inference answers 500 out, with a growing open period', async () => {
    const session = 'health-fine-inference-broken';
    const [owner] = walkOf('decode', session);
    const ownerUrl = urlOf(owner as string);
    await sim.post(`/pods/${owner}/faults`, { errorRate500: 1 });
    const router = await start([
      '--cb-failure-threshold',
      '2',
      '--cb-timeout-duration-secs',
      '0.3',
      '--cb-success-threshold',
      '1',
      // Probes every 100 ms, all passing: on their own they would re-admit the pod at once.
      '--health-check-interval-secs',
      '0.1',
      '--health-success-threshold',
      '1',
    ]);
    const periods: number[] = [];
    const states = new Set<string>();
    await waitFor(
      'three open periods',
      async () => {
        const r = await complete(router, session);
        // Every request is served: by the next decode pod while the owner is out or failing its trial.
        expect(r.status).toBe(200);
        const s = await podState(router, ownerUrl);
        // Once open, it must never be seen closed again.
        if (periods.length > 0) states.add(s.circuit);
        if (s.circuit === 'open' && s.openPeriodMs !== periods.at(-1)) periods.push(s.openPeriodMs);
        return periods.length >= 3 ? true : undefined;
      },
      20_000,
      20,
    );
    // 300 ms, then about 600 and 1200 (±20% each): the period grows while trials fail, probes or not.
    expect(periods[1]).toBeGreaterThan(periods[0] as number);
    expect(periods[2]).toBeGreaterThan(periods[1] as number);
    expect(states.has('closed')).toBe(false);
    const m = await scrape(router.metricsUrl);
    expect(metricValue(m, 'pdrouter_readmissions_total', { worker: ownerUrl })).toBe(0);
    expect(
      metricValue(m, 'vllm_router_cb_state_transitions_total', { worker: ownerUrl, from: 'half_open', to: 'open' }),
    ).toBeGreaterThanOrEqual(2);
    expect(metricValue(m, 'pdrouter_health_probes_total', { result: 'ok' })).toBeGreaterThan(0);
    expect((await podState(router, ownerUrl)).probeHealthy).toBe(true);
  });

  it('stops sending requests to a pod that stalls before its headers once its circuit is open', async () => {
    const session = 'stall-before-headers';
    const [owner] = walkOf('decode', session);
    await sim.post(`/pods/${owner}/faults`, { stallBeforeHeadersMs: -1 });
    const requestsTo = async () => (await sim.stats())[owner as string]?.requests ?? 0;
    const run = async (router: RunningProxy) => {
      const before = await requestsTo();
      for (let i = 0; i < 5; i++) expect((await complete(router, session, { stream: true })).status).toBe(200);
      return (await requestsTo()) - before;
    };
    const flags = ['--first-byte-timeout-ms', '300', '--cb-timeout-duration-secs', '60'];
    // With the breaker, only the first request waits out the timeout on the stalled pod.
    expect(await run(await start(flags))).toBe(1);
    // Without it, every request does.
    expect(await run(await start([...flags, '--disable-circuit-breaker']))).toBe(5);
  });
});

describe('retries (--retry-*)', () => {
  it('tries at most --retry-max-retries pods, waiting the configured backoff between them', async () => {
    const session = 'retry-budget';
    const walk = walkOf('decode', session);
    for (const name of walk) await sim.post(`/pods/${name}/faults`, { errorRate500: 1 });
    const router = await start([
      '--retry-max-retries',
      '2',
      '--retry-initial-backoff-ms',
      '120',
      '--retry-jitter-factor',
      '0',
    ]);
    const before = await sim.stats();
    const r = await complete(router, session);
    expect(r.status).toBe(502);
    const after = await sim.stats();
    expect(sumStat(after, 'requests', walk) - sumStat(before, 'requests', walk)).toBe(2);
    const m = await scrape(router.metricsUrl);
    expect(metricValue(m, 'vllm_router_retry_backoff_duration_seconds_sum', { attempt: '1' })).toBeCloseTo(0.12, 6);
    expect(metricValue(m, 'vllm_router_retries_exhausted_total', { route: '/v1/completions' })).toBe(1);
  });
});

describe('decode retry and kv params (issue 11 item 6)', () => {
  it('re-sends the same kv params when nothing reached the failed decode pod (connection refused)', async () => {
    const session = 'decode-refused';
    const [owner, next] = walkOf('decode', session);
    await sim.post(`/pods/${owner}/stop`);
    const router = await start([]);
    const before = await sim.stats();
    expect((await complete(router, session)).status).toBe(200);
    const after = await sim.stats();
    expect(sumStat(after, 'prefillRequests') - sumStat(before, 'prefillRequests')).toBe(1);
    expect((after[next as string]?.remotePrefillHits ?? 0) - (before[next as string]?.remotePrefillHits ?? 0)).toBe(1);
    expect(sumStat(after, 'localPrefillFallbacks') - sumStat(before, 'localPrefillFallbacks')).toBe(0);
    expect(metricValue(await scrape(router.metricsUrl), 'pdrouter_decode_retries_total', { kv: 'same' })).toBe(1);
  });

  it('runs a fresh prefill when the failed decode pod got the request (it pulled the blocks, then died)', async () => {
    const session = 'decode-pulled-then-died';
    const [owner, next] = walkOf('decode', session);
    // Non-streaming: the pod pulls the KV, generates one token and closes the connection before any header.
    await sim.post(`/pods/${owner}/faults`, { dropAfterTokens: 1 });
    const router = await start([]);
    const before = await sim.stats();
    expect((await complete(router, session)).status).toBe(200);
    const after = await sim.stats();
    // The failed pod pulled (and so freed) the first prefill's blocks.
    expect((after[owner as string]?.remotePrefillHits ?? 0) - (before[owner as string]?.remotePrefillHits ?? 0)).toBe(
      1,
    );
    expect(sumStat(after, 'prefillRequests') - sumStat(before, 'prefillRequests')).toBe(2);
    // The next pod pulled the fresh prefill's blocks instead of falling back to a local prefill.
    expect((after[next as string]?.remotePrefillHits ?? 0) - (before[next as string]?.remotePrefillHits ?? 0)).toBe(1);
    expect(sumStat(after, 'localPrefillFallbacks') - sumStat(before, 'localPrefillFallbacks')).toBe(0);
    expect(metricValue(await scrape(router.metricsUrl), 'pdrouter_decode_retries_total', { kv: 'fresh_prefill' })).toBe(
      1,
    );
  });
});

describe('start-up wait (--worker-startup-timeout-secs, --worker-startup-check-interval)', () => {
  it('keeps readiness false until the pods answer their health endpoint', async () => {
    const [pod] = sim.urls('decode');
    const name = sim.pods.find((p) => p.url === pod)?.name as string;
    await sim.post(`/pods/${name}/faults`, { notReadyMs: 1500 });
    const router = await e2e.proxy(['--worker-urls', pod as string, '--worker-startup-check-interval', '0.1']);
    const readiness = async () =>
      (await fetch(`${router.url}/readiness`, { signal: AbortSignal.timeout(5000) })).status;
    expect(await readiness()).toBe(503);
    await waitFor('readiness once the pod is ready', async () => ((await readiness()) === 200 ? true : undefined));
  });

  it('exits with an error when no pod answers within the timeout, as vllm-router does', async () => {
    const result = await runCommand(
      process.execPath,
      [
        PROXY_MAIN,
        '--worker-urls',
        'http://127.0.0.1:9',
        '--port',
        '0',
        '--prometheus-port',
        '0',
        '--worker-startup-timeout-secs',
        '0.5',
        '--worker-startup-check-interval',
        '0.1',
      ],
      { timeoutMs: 20_000 },
    );
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toMatch(/pods did not answer their health endpoint in time/);
  });
});
