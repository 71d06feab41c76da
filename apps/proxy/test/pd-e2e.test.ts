// The P/D flow end to end: a real sim process (4 prefill + 4 decode pods), the proxy listening on a real
// port, the official openai SDK and undici as clients. Proof of P/D: the decode pods report remote
// prefill hits (valid kv_transfer_params) and no local prefill fallback.
import { ConsistentHashRing, fbiHash } from '@pdrouter/core';
import OpenAI from 'openai';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import { adminState, MODEL, metricValue, type RunningProxy, type SimProcess, scrape, sumStat } from './helpers.ts';

const SEED_PROMPT = 'Explain what machine learning is in simple terms.';

const e2e = e2eFixture();
let sim: SimProcess;
let router: RunningProxy;
let client: OpenAI;

beforeAll(async () => {
  sim = await e2e.sim({ prefill: 4, decode: 4, plain: 2 });
  router = await e2e.pdProxy(sim, ['--policy', 'consistent_hash']);
  client = new OpenAI({ baseURL: `${router.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 20_000 });
});

describe('P/D through the proxy', () => {
  it("serves the seed's manual validation request with a real prefill then decode", async () => {
    const before = await sim.stats();
    const res = await client.completions.create({ model: MODEL, prompt: SEED_PROMPT, max_tokens: 32 });
    expect(res.choices[0]?.text.length).toBeGreaterThan(0);
    expect(res.usage?.completion_tokens).toBeGreaterThan(0);
    const after = await sim.stats();
    expect(sumStat(after, 'prefillRequests') - sumStat(before, 'prefillRequests')).toBe(1);
    expect(sumStat(after, 'remotePrefillHits') - sumStat(before, 'remotePrefillHits')).toBe(1);
    expect(sumStat(after, 'localPrefillFallbacks')).toBe(0);
  });

  it('streams chat completions chunk by chunk (openai SDK)', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: SEED_PROMPT }],
      max_tokens: 16,
      stream: true,
    });
    let text = '';
    let chunks = 0;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text.trim().length).toBeGreaterThan(0);
    expect(finish).toBeTruthy();
  });

  it('answers non-streaming chat and streaming completions', async () => {
    const chat = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hello there' }],
      max_tokens: 8,
    });
    expect(chat.choices[0]?.message.content?.length).toBeGreaterThan(0);
    const stream = await client.completions.create({
      model: MODEL,
      prompt: 'count to ten',
      max_tokens: 8,
      stream: true,
    });
    let n = 0;
    for await (const c of stream) if (c.choices[0]?.text) n++;
    expect(n).toBeGreaterThan(0);
    const stats = await sim.stats();
    expect(sumStat(stats, 'localPrefillFallbacks')).toBe(0);
    expect(sumStat(stats, 'remotePrefillHits')).toBeGreaterThanOrEqual(3);
  });

  it('relays a raw SSE stream with the request id and without buffering (undici)', async () => {
    const res = await request(`${router.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: SEED_PROMPT, max_tokens: 12, stream: true }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/event-stream');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.connection).not.toBe('upgrade');
    const text = await res.body.text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.length).toBeGreaterThanOrEqual(13);
  });

  it('serves /v1/models from a member', async () => {
    const models = await client.models.list();
    expect(models.data[0]?.id).toBe(MODEL);
  });

  it('sends one session to the same prefill and decode pod, the ring owner on each role, whatever the request id', async () => {
    const session = 'session-affinity-test';
    const before = await sim.stats();
    for (let i = 0; i < 4; i++) {
      // vllm-router's PDRouter keys on the prompt text only (scanned for `user:`), never on headers.
      await client.completions.create(
        { model: MODEL, prompt: `user: ${session}, turn ${i} of a conversation`, max_tokens: 4 },
        { headers: { 'x-request-id': `fresh-${i}`, 'x-session-id': `ignored-${i}` } },
      );
    }
    const after = await sim.stats();
    const gained = (key: 'prefillRequests' | 'remotePrefillHits') =>
      Object.values(after)
        .filter((s) => Number(s[key]) - Number(before[s.name]?.[key] ?? 0) > 0)
        .map((s) => ({ url: s.url, n: Number(s[key]) - Number(before[s.name]?.[key] ?? 0) }));
    const prefill = gained('prefillRequests');
    const decode = gained('remotePrefillHits');
    expect(prefill).toHaveLength(1);
    expect(decode).toHaveLength(1);
    expect(prefill[0]?.n).toBe(4);
    expect(decode[0]?.n).toBe(4);
    // vllm-router's key for this prompt, on rings of the same URLs: the same pods vllm-router would pick.
    const h = fbiHash(`user:${session}`);
    expect(prefill[0]?.url).toBe(new ConsistentHashRing(sim.urls('prefill')).ownerOfHash(h));
    expect(decode[0]?.url).toBe(new ConsistentHashRing(sim.urls('decode')).ownerOfHash(h));
  });

  it('spreads different sessions over several pods', async () => {
    const before = await sim.stats();
    await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        client.completions.create({ model: MODEL, prompt: `user: spread-${i} hi`, max_tokens: 2 }),
      ),
    );
    const after = await sim.stats();
    const used = Object.values(after).filter((s) => s.prefillRequests > (before[s.name]?.prefillRequests ?? 0));
    expect(used.length).toBeGreaterThan(1);
  });

  it('counts per-pod legs and TTFT with vllm-router metric names', async () => {
    const text = await scrape(router.metricsUrl);
    const prefillLegs = sim
      .urls('prefill')
      .reduce((acc, url) => acc + metricValue(text, 'vllm_router_pd_prefill_requests_total', { worker: url }), 0);
    const stats = await sim.stats();
    expect(prefillLegs).toBe(sumStat(stats, 'prefillRequests'));
    expect(metricValue(text, 'vllm_router_requests_total', { route: '/v1/completions' })).toBeGreaterThan(0);
    expect(metricValue(text, 'pdrouter_ttft_seconds_count', { route: '/v1/completions' })).toBeGreaterThan(0);
    expect(metricValue(text, 'pdrouter_ring_info', { role: 'prefill', members: '4', vnodes: '160' })).toBe(1);
    expect(metricValue(text, 'vllm_router_running_requests')).toBe(0);
  });
});

describe('other routes and modes', () => {
  it('routes /v1/responses through prefill and decode (openai SDK)', async () => {
    const before = await sim.stats();
    const res = await client.responses.create({ model: MODEL, input: SEED_PROMPT, max_output_tokens: 8 });
    expect(res.output_text.length).toBeGreaterThan(0);
    const after = await sim.stats();
    expect(sumStat(after, 'remotePrefillHits') - sumStat(before, 'remotePrefillHits')).toBe(1);
  });

  it('plain mode (--worker-urls) sends the request unchanged to one worker, with failover', async () => {
    const plain = await e2e.proxy(['--worker-urls', ...sim.urls('both'), '--policy', 'round_robin']);
    try {
      const c = new OpenAI({ baseURL: `${plain.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 20_000 });
      const before = await sim.stats();
      for (let i = 0; i < 4; i++) {
        const r = await c.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: `hi ${i}` }],
          max_tokens: 4,
        });
        expect(r.choices[0]?.message.content?.length).toBeGreaterThan(0);
      }
      const after = await sim.stats();
      const names = sim.pods.filter((p) => p.role === 'both').map((p) => p.name);
      // round_robin: two each, no prefill leg anywhere.
      for (const n of names) expect(Number(after[n]?.requests) - Number(before[n]?.requests)).toBe(2);
      expect(sumStat(after, 'prefillRequests')).toBe(sumStat(before, 'prefillRequests'));
      const text = await scrape(plain.metricsUrl);
      expect(metricValue(text, 'vllm_router_processed_requests_total')).toBe(4);
    } finally {
      await plain.close();
    }
  });

  it('puts each data-parallel rank on the ring as url@rank (--intra-node-data-parallel-size)', async () => {
    const dp = await e2e.pdProxy(sim, ['--intra-node-data-parallel-size', '2']);
    try {
      const state = await adminState<{ rings: { decode: { members: string[] } } }>(dp.url);
      expect(state.rings.decode.members).toHaveLength(8);
      expect(state.rings.decode.members).toContain(`${sim.urls('decode')[0]}@1`);
      const r = await request(`${dp.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, prompt: 'x', max_tokens: 2 }),
      });
      expect(r.statusCode).toBe(200);
      await r.body.json();
    } finally {
      await dp.close();
    }
  });
});
