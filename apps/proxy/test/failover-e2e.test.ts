// Failure handling end to end against a real sim process: pods refusing, failing before the first byte,
// dying or stalling mid-stream, clients leaving. Each test keys its requests on its own session (named
// in the prompt, which vllm-router's P/D key scans for `user:`) and finds the session's owner pods from
// the same ring the proxy builds.
import OpenAI from 'openai';
import { request } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import {
  adminState,
  deadUrl,
  MODEL,
  metricValue,
  type RunningProxy,
  type SimProcess,
  scrape,
  sessionPrompt,
  sessionWalk,
  sumStat,
  waitFor,
} from './helpers.ts';

const IDLE_TIMEOUT_MS = 1500;

const e2e = e2eFixture();
let sim: SimProcess;
let router: RunningProxy;

/** The pods a session's requests go to, in failover order, as sim pod names. */
const walkOf = (role: 'prefill' | 'decode', session: string) => sessionWalk(sim, role, session);

function complete(session: string, body: Record<string, unknown>, signal?: AbortSignal) {
  return request(`${router.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: sessionPrompt(session), max_tokens: 8, ...body }),
    ...(signal ? { signal } : {}),
  });
}

const ejected = async () => (await adminState<{ ejected: string[] }>(router.url)).ejected;

beforeAll(async () => {
  sim = await e2e.sim({ prefill: 3, decode: 3 });
  router = await e2e.pdProxy(sim, [
    // One failure opens a circuit; a trial after 1 s (at most 2 s), one success closes it.
    '--cb-failure-threshold',
    '1',
    '--cb-timeout-duration-secs',
    '1',
    '--cb-max-timeout-duration-secs',
    '2',
    '--cb-success-threshold',
    '1',
    '--idle-timeout-ms',
    String(IDLE_TIMEOUT_MS),
  ]);
});

afterEach(async () => {
  // Every pod healthy again and re-admitted before the next test.
  await sim.heal();
  await waitFor('every pod re-admitted', async () => ((await ejected()).length === 0 ? true : undefined), 10_000);
});

describe('prefill failures', () => {
  it('moves to the next prefill pod of the walk when the owner is down, ejects it, re-admits it', async () => {
    const session = 'prefill-down';
    const [owner, next] = walkOf('prefill', session);
    await sim.post(`/pods/${owner}/stop`);
    const before = await sim.stats();
    const res = await complete(session, {});
    expect(res.statusCode).toBe(200);
    await res.body.text();
    const after = await sim.stats();
    expect((after[next as string]?.prefillRequests ?? 0) - (before[next as string]?.prefillRequests ?? 0)).toBe(1);
    const text = await scrape(router.metricsUrl);
    expect(metricValue(text, 'pdrouter_failovers_total', { role: 'prefill' })).toBeGreaterThanOrEqual(1);
    const ownerUrl = sim.pods.find((p) => p.name === owner)?.url as string;
    expect(metricValue(text, 'pdrouter_ejections_total', { worker: ownerUrl })).toBe(1);
    expect(await ejected()).toEqual([ownerUrl]);
    // While out (or on a failed trial) the request is still served by the next pod.
    const again = await complete(session, {});
    expect(again.statusCode).toBe(200);
    await again.body.text();
    await sim.post(`/pods/${owner}/start`);
    // Back only through a successful trial of real traffic (half-open, then closed).
    await waitFor(
      'owner re-admitted after a trial',
      async () => {
        const res = await complete(session, {});
        await res.body.text();
        const m = await scrape(router.metricsUrl);
        return metricValue(m, 'pdrouter_readmissions_total', { worker: ownerUrl }) === 1 ? true : undefined;
      },
      10_000,
      100,
    );
    expect(await ejected()).toEqual([]);
  });

  it("returns a prefill pod's 4xx to the client as is, without failover or ejection", async () => {
    const session = 'prefill-400';
    const [, next] = walkOf('prefill', session);
    const before = await sim.stats();
    // The simulator answers n > 1 with vLLM's 400.
    const res = await complete(session, { n: 2 });
    expect(res.statusCode).toBe(400);
    const body = (await res.body.json()) as { error?: { param?: string } };
    expect(body.error?.param).toBe('n');
    const after = await sim.stats();
    expect(after[next as string]?.prefillRequests).toBe(before[next as string]?.prefillRequests);
    expect(await ejected()).toEqual([]);
  });

  it('serves from the next prefill pod when the owner is busy (429), without ejecting the busy pod', async () => {
    const session = 'prefill-429';
    const [owner, next] = walkOf('prefill', session);
    await sim.post(`/pods/${owner}/faults`, { errorRate429: 1 });
    const before = await sim.stats();
    const res = await complete(session, {});
    expect(res.statusCode).toBe(200);
    await res.body.text();
    const after = await sim.stats();
    expect((after[next as string]?.prefillRequests ?? 0) - (before[next as string]?.prefillRequests ?? 0)).toBe(1);
    // One failure opens a circuit here (--cb-failure-threshold 1): a busy pod is not a broken one.
    expect(await ejected()).toEqual([]);
  });
});

describe('decode failures', () => {
  it('moves to the next decode pod when the owner answers 500 before the first byte', async () => {
    const session = 'decode-500';
    const [owner, next] = walkOf('decode', session);
    await sim.post(`/pods/${owner}/faults`, { errorRate500: 1 });
    const before = await sim.stats();
    const res = await complete(session, { stream: true });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toContain('data: [DONE]');
    const after = await sim.stats();
    expect((after[next as string]?.remotePrefillHits ?? 0) - (before[next as string]?.remotePrefillHits ?? 0)).toBe(1);
    expect(
      metricValue(await scrape(router.metricsUrl), 'pdrouter_failovers_total', { role: 'decode' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('ends the stream with an SSE error event (no [DONE]) when the decode pod dies mid-stream', async () => {
    const session = 'decode-drop';
    const [owner] = walkOf('decode', session);
    await sim.post(`/pods/${owner}/faults`, { dropAfterTokens: 3 });
    const res = await complete(session, { stream: true, max_tokens: 50 });
    expect(res.statusCode).toBe(200);
    const text = await res.body.text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events.length).toBeGreaterThanOrEqual(2);
    const last = events.at(-1) as string;
    expect(last.startsWith('data: {"error":')).toBe(true);
    expect(JSON.parse(last.slice(6)).error.type).toBe('upstream_error');
    expect(text).not.toContain('[DONE]');
    const metrics = await scrape(router.metricsUrl);
    expect(metricValue(metrics, 'pdrouter_midstream_failures_total', { role: 'decode' })).toBeGreaterThanOrEqual(1);
    const ownerUrl = sim.pods.find((p) => p.name === owner)?.url as string;
    expect(metricValue(metrics, 'vllm_router_pd_stream_errors_total', { worker: ownerUrl })).toBeGreaterThanOrEqual(1);
  });

  it('surfaces a mid-stream failure to the openai SDK as an error', async () => {
    const session = 'decode-drop-sdk';
    const [owner] = walkOf('decode', session);
    await sim.post(`/pods/${owner}/faults`, { dropAfterTokens: 2 });
    const client = new OpenAI({ baseURL: `${router.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 20_000 });
    const stream = await client.completions.create({
      model: MODEL,
      prompt: sessionPrompt(session),
      max_tokens: 50,
      stream: true,
    });
    await expect(
      (async () => {
        for await (const _ of stream) {
          // consume
        }
      })(),
    ).rejects.toThrow(/mid-stream/);
  });

  it('ends a stream that goes silent longer than the idle timeout with an error event', async () => {
    const session = 'decode-idle';
    const [owner] = walkOf('decode', session);
    await sim.post(`/pods/${owner}/faults`, { stallAfterTokens: 2, stallMs: 0 });
    const started = Date.now();
    const res = await complete(session, { stream: true, max_tokens: 50 });
    const text = await res.body.text();
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 200);
    expect(text).toContain('idle_timeout');
    expect(text).not.toContain('[DONE]');
  });
});

describe('total request timeout', () => {
  it('ends a stream at --request-timeout-secs with a timeout event, without blaming the pod', async () => {
    const short = await e2e.pdProxy(sim, ['--request-timeout-secs', '1']);
    try {
      const session = 'total-timeout';
      const [owner] = walkOf('decode', session);
      await sim.post(`/pods/${owner}/faults`, { stallAfterTokens: 2, stallMs: 0 });
      const res = await request(`${short.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, prompt: sessionPrompt(session), max_tokens: 50, stream: true }),
      });
      const text = await res.body.text();
      const last = text.split('\n\n').filter(Boolean).at(-1) as string;
      expect(JSON.parse(last.slice(6)).error).toMatchObject({ type: 'timeout_error', code: 'upstream_timeout' });
      const state = await adminState<{ pods: { consecutiveFailures: number }[] }>(short.url);
      expect(state.pods.every((p) => p.consecutiveFailures === 0)).toBe(true);
    } finally {
      await short.close();
    }
  });
});

describe('client aborts', () => {
  it('cancels the prefill leg when the client leaves during prefill', async () => {
    const session = 'abort-prefill';
    const [owner] = walkOf('prefill', session);
    await sim.post(`/pods/${owner}/faults`, { stallBeforeHeadersMs: -1 });
    const stats0 = (await sim.stats())[owner as string];
    const before = stats0?.cancelled ?? 0;
    const ac = new AbortController();
    const pending = complete(session, {}, ac.signal).catch((err: Error) => err);
    await waitFor('prefill request to reach the pod', async () =>
      ((await sim.stats())[owner as string]?.requests ?? 0) > (stats0?.requests ?? 0) ? true : undefined,
    );
    ac.abort();
    expect(await pending).toBeInstanceOf(Error);
    await waitFor('prefill pod to see the cancel', async () =>
      ((await sim.stats())[owner as string]?.cancelled ?? 0) > before ? true : undefined,
    );
  });

  it('cancels the decode leg when the client leaves mid-stream', async () => {
    const session = 'abort-decode';
    const [owner] = walkOf('decode', session);
    await sim.post(`/pods/${owner}/faults`, { stallAfterTokens: 2, stallMs: 0 });
    const before = (await sim.stats())[owner as string]?.cancelled ?? 0;
    const ac = new AbortController();
    const res = await complete(session, { stream: true, max_tokens: 50 }, ac.signal);
    // Wait for the first event, then leave.
    await new Promise<void>((resolve) => res.body.once('data', () => resolve()));
    ac.abort();
    await waitFor('decode pod to see the cancel', async () =>
      ((await sim.stats())[owner as string]?.cancelled ?? 0) > before ? true : undefined,
    );
    await waitFor('client cancel counted', async () =>
      metricValue(await scrape(router.metricsUrl), 'pdrouter_client_cancels_total', { route: '/v1/completions' }) >= 1
        ? true
        : undefined,
    );
    expect(metricValue(await scrape(router.metricsUrl), 'vllm_router_running_requests')).toBe(0);
  });
});

describe('many clients leaving at random moments', () => {
  it('keeps serving and returns every in-flight count to zero', async () => {
    const aborted = Array.from({ length: 40 }, async (_, i) => {
      const ac = new AbortController();
      const delayMs = (i * 7) % 120;
      setTimeout(() => ac.abort(), delayMs);
      try {
        const res = await complete(`chaos-${i}`, { stream: true, max_tokens: 40 }, ac.signal);
        await res.body.text();
      } catch {
        // Expected: the abort.
      }
    });
    await Promise.all(aborted);
    await waitFor('in-flight gauges back to zero', async () => {
      const text = await scrape(router.metricsUrl);
      return metricValue(text, 'vllm_router_running_requests') === 0 &&
        metricValue(text, 'pdrouter_in_flight_requests') === 0
        ? true
        : undefined;
    });
    const res = await complete('after-chaos', {});
    expect(res.statusCode).toBe(200);
    await res.body.text();
  });
});

describe('no prefill pod left', () => {
  const local = e2eFixture();
  let fallback: RunningProxy;
  let strict: RunningProxy;
  beforeAll(async () => {
    const dead = await deadUrl();
    const decode = sim.urls('decode').flatMap((u) => ['--decode', u]);
    strict = await local.proxy(['--pd-disaggregation', '--prefill', dead, ...decode]);
    fallback = await local.proxy(['--pd-disaggregation', '--prefill', dead, ...decode, '--decode-only-fallback']);
  });

  it('answers 502 and never runs decode without kv params by default', async () => {
    const before = await sim.stats();
    const res = await request(`${strict.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'x', max_tokens: 2 }),
    });
    expect(res.statusCode).toBe(502);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('upstream_error');
    const after = await sim.stats();
    for (const url of sim.urls('decode')) {
      const name = sim.pods.find((p) => p.url === url)?.name as string;
      expect(after[name]?.requests).toBe(before[name]?.requests);
    }
  });

  it('falls back to decode-only when configured, and counts it', async () => {
    const before = await sim.stats();
    const res = await request(`${fallback.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'x', max_tokens: 2 }),
    });
    expect(res.statusCode).toBe(200);
    await res.body.json();
    expect(metricValue(await scrape(fallback.metricsUrl), 'pdrouter_decode_only_fallbacks_total')).toBe(1);
    // The decode pod had no kv params and prefilled locally: visible in its own counters.
    expect(sumStat(await sim.stats(), 'localPrefillFallbacks') - sumStat(before, 'localPrefillFallbacks')).toBe(1);
  });
});
