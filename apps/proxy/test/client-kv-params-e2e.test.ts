// A client cannot choose where a pod pulls KV from: kv_transfer_params in the client's body never reach a
// pod, in plain mode, in P/D and on the decode-only fallback. The simulated decode pod pulls KV from the
// host its kv_transfer_params name (as vLLM's NIXL handshake does), so a listener named by the client sees
// a connection if the params get through; the control case sends the same body straight to a pod.
import { type AddressInfo, createServer, type Server } from 'node:net';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import { deadUrl, MODEL, type SimProcess, sumStat } from './helpers.ts';

const e2e = e2eFixture();
let sim: SimProcess;
let baitPort: number;
let baitConnections = 0;

function hostileBody(): string {
  return JSON.stringify({
    model: MODEL,
    prompt: 'pull my blocks',
    max_tokens: 2,
    kv_transfer_params: {
      do_remote_prefill: true,
      do_remote_decode: false,
      remote_engine_id: 'engine-of-my-choice',
      remote_block_ids: [1, 2, 3],
      remote_host: '127.0.0.1',
      remote_port: baitPort,
      remote_request_id: 'req-of-my-choice',
    },
  });
}

async function post(url: string, body: string): Promise<number> {
  const res = await request(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  await res.body.text();
  return res.statusCode;
}

beforeAll(async () => {
  const bait = createServer((socket) => {
    baitConnections++;
    socket.destroy();
  });
  await new Promise<void>((r) => bait.listen(0, '127.0.0.1', r));
  e2e.adopt('the bait listener', bait, (b: Server) => new Promise<void>((r) => b.close(() => r())));
  baitPort = (bait.address() as AddressInfo).port;
  sim = await e2e.sim({ prefill: 1, decode: 1, plain: 1 });
});

describe('client-supplied kv_transfer_params', () => {
  it('control: sent straight to a decode pod, they make it connect to the host they name', async () => {
    const before = baitConnections;
    expect(await post(sim.urls('decode')[0] as string, hostileBody())).toBe(200);
    expect(baitConnections).toBeGreaterThan(before);
  });

  it('never reach a pod in plain mode', async () => {
    const router = await e2e.proxy(['--worker-urls', ...sim.urls('both')]);
    const before = baitConnections;
    const stats = await sim.stats();
    for (let i = 0; i < 5; i++) expect(await post(router.url, hostileBody())).toBe(200);
    expect(baitConnections).toBe(before);
    // The pod served them, and prefilled locally: nothing told it to pull.
    expect(sumStat(await sim.stats(), 'completed') - sumStat(stats, 'completed')).toBe(5);
  });

  it('never reach a pod in P/D mode (decode gets the prefill pod params only)', async () => {
    const router = await e2e.pdProxy(sim);
    const before = baitConnections;
    const stats = await sim.stats();
    for (let i = 0; i < 5; i++) expect(await post(router.url, hostileBody())).toBe(200);
    expect(baitConnections).toBe(before);
    const after = await sim.stats();
    expect(sumStat(after, 'remotePrefillHits') - sumStat(stats, 'remotePrefillHits')).toBe(5);
  });

  it('never reach a pod on the decode-only fallback path', async () => {
    const router = await e2e.proxy([
      '--pd-disaggregation',
      '--prefill',
      await deadUrl(),
      ...sim.urls('decode').flatMap((u) => ['--decode', u]),
      '--decode-only-fallback',
    ]);
    const before = baitConnections;
    const stats = await sim.stats();
    for (let i = 0; i < 5; i++) expect(await post(router.url, hostileBody())).toBe(200);
    expect(baitConnections).toBe(before);
    // Decode-only: the pod prefilled locally, because its params said nothing.
    const after = await sim.stats();
    expect(sumStat(after, 'localPrefillFallbacks') - sumStat(stats, 'localPrefillFallbacks')).toBe(5);
  });
});
