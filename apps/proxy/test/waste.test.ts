// No prefill for a request no decode pod can take, and KV left held on a prefill pod counted: real pods
// on real sockets, a real proxy.
import { createServer, type Server } from 'node:http';
import { waitUntil } from '@pdrouter/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import { closeServer, deadUrl as freeUrl, listenLocal, metricValue, scrape } from './helpers.ts';

const KV = { remote_engine_id: 'e', remote_block_ids: [1], remote_host: '127.0.0.1', remote_port: 1 };

let prefill: Server;
let prefillUrl: string;
let prefills = 0;
let stalledDecode: Server;
let stalledUrl: string;
let deadUrl: string;
const e2e = e2eFixture();

beforeAll(async () => {
  prefill = createServer((req, res) => {
    // The router's health probes, answered as vLLM does (not counted as prefills).
    if (req.method === 'GET' && req.url === '/health') return void res.end();
    req.resume();
    req.on('end', () => {
      prefills++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ text: '' }], kv_transfer_params: KV }));
    });
  });
  e2e.adopt('the prefill pod', prefill, closeServer);
  prefillUrl = await listenLocal(prefill);
  // Takes the decode leg and never answers.
  stalledDecode = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') return void res.end();
    req.resume();
  });
  e2e.adopt('the stalled decode pod', stalledDecode, closeServer);
  stalledUrl = await listenLocal(stalledDecode);
  deadUrl = await freeUrl();
});

const post = (url: string, signal?: AbortSignal) =>
  fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'x', max_tokens: 2 }),
    ...(signal ? { signal } : {}),
  });

describe('waste between the legs', () => {
  it('runs no prefill once every decode pod is ejected, and counts the KV the first one left held', async () => {
    const router = await e2e.proxy([
      '--pd-disaggregation',
      '--prefill',
      prefillUrl,
      '--decode',
      deadUrl,
      '--cb-failure-threshold',
      '1',
    ]);
    const before = prefills;
    const first = await post(router.url);
    expect(first.status).toBe(502);
    await first.text();
    expect(prefills).toBe(before + 1);
    expect(metricValue(await scrape(router.metricsUrl), 'pdrouter_kv_left_held_total', { reason: 'no_decode' })).toBe(
      1,
    );
    for (let i = 0; i < 5; i++) {
      const res = await post(router.url);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('no_members');
      expect(body.error.message).toMatch(/prefill was not run/);
    }
    expect(prefills).toBe(before + 1);
  });

  it('counts a client leaving between the legs as KV left held', async () => {
    const router = await e2e.proxy(['--pd-disaggregation', '--prefill', prefillUrl, '--decode', stalledUrl]);
    const before = prefills;
    const controller = new AbortController();
    const pending = post(router.url, controller.signal).catch((err: unknown) => err);
    await waitUntil(() => prefills > before, { timeoutMs: 5000, description: 'the prefill leg answered' });
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await waitUntil(
      async () =>
        metricValue(await scrape(router.metricsUrl), 'pdrouter_kv_left_held_total', { reason: 'client_closed' }) === 1,
      { timeoutMs: 5000, description: 'kv left held counted' },
    );
  });
});
