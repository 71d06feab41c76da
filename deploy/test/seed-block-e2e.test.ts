// The seed deployment's router command block, exactly as the seed ran it (its five flags, then the
// `--prefill URL` / `--decode URL` pairs its init container built from the pod IPs), started as a proxy
// process in front of simulated pods. It must behave as docs/migrating-from-vllm-router.md says: listen on
// 0.0.0.0:10001 with metrics on 127.0.0.1:29000, and route each prompt to the prefill and decode pod
// vllm-router's PDRouter picks (prompt text key, headers not consulted, so a fresh x-request-id per request
// changes nothing). The overlay renders the same block for the distributed mode.
import { ConsistentHashRing, extractHashKey, fbiHash, headerLookupFrom } from '@pdrouter/core';
import { parseFlags } from '@pdrouter/proxy';
import { canConnect, type SpawnedProcess, spawnProcess } from '@pdrouter/testkit';
import { type SimFleet, startSimFleet } from '@pdrouter/vllm-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerNamed, find, rendered, type Workload } from './support/k8s.ts';

/** The seed's block (docs/migrating-from-vllm-router.md, "The command line"). */
const SEED_BLOCK = [
  '--pd-disaggregation',
  '--intra-node-data-parallel-size',
  '1',
  '--policy',
  'consistent_hash',
  '--host',
  '0.0.0.0',
  '--port',
  '10001',
];
const PROMPT = 'Explain what machine learning is in simple terms.';
const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

describe("the seed's exact vllm-router command block", () => {
  let fleet: SimFleet;
  let proxy: SpawnedProcess;

  beforeAll(async () => {
    // The block binds fixed ports; a clear failure beats a confusing one when something else holds them.
    for (const port of [10001, 29000]) {
      if (await canConnect('127.0.0.1', port)) throw new Error(`port ${port} is in use: the seed block needs it`);
    }
    fleet = await startSimFleet({ prefill: 4, decode: 4 });
    proxy = await spawnProcess(
      process.execPath,
      [
        'apps/proxy/src/main.ts',
        ...SEED_BLOCK,
        ...fleet.prefill.flatMap((p) => ['--prefill', p.url]),
        ...fleet.decode.flatMap((p) => ['--decode', p.url]),
      ],
      {
        cwd: `${import.meta.dirname}/../..`,
        name: 'proxy',
        readyLine: (l) => l.includes('"msg":"listening"'),
      },
    );
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await fleet?.close();
  });

  it('is what the seed overlay renders for the proxy (same values for the same flags)', async () => {
    const args = containerNamed(
      find<Workload>(await rendered('overlays/seed'), 'Deployment', 'pdrouter-proxy'),
      'proxy',
    ).args;
    const overlay = parseFlags(args ?? [], {}).values;
    const seed = parseFlags(SEED_BLOCK, {}).values;
    for (const flag of ['pd-disaggregation', 'intra-node-data-parallel-size', 'policy', 'host', 'port'] as const) {
      expect(overlay[flag], flag).toEqual(seed[flag]);
    }
  });

  it('listens on 0.0.0.0:10001 with metrics on 127.0.0.1:29000, no start-up warning', async () => {
    const line = JSON.parse(proxy.lines.find((l) => l.includes('"msg":"listening"')) as string) as {
      url: string;
      metricsUrl: string;
      mode: string;
      prefillPolicy: string;
    };
    expect(new URL(line.url).port).toBe('10001');
    expect(line.mode).toBe('pd');
    expect(line.prefillPolicy).toBe('consistent_hash');
    expect(proxy.lines.filter((l) => l.includes('"level":"warn"'))).toEqual([]);
    const metrics = await fetch('http://127.0.0.1:29000/metrics');
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('vllm_router_requests_total');
  });

  it("routes the seed's validation prompt to vllm-router's pods whatever x-request-id the client sends", async () => {
    const key = extractHashKey(headerLookupFrom({}), { prompt: PROMPT }, { mode: 'vllm-router', router: 'pd' });
    expect(key).toBe(`request:${PROMPT}`);
    const owner = (urls: string[]) => new ConsistentHashRing(urls).walkHash(fbiHash(key))[0];
    const prefillOwner = owner(fleet.prefill.map((p) => p.url));
    const decodeOwner = owner(fleet.decode.map((p) => p.url));
    for (let i = 0; i < 3; i++) {
      const res = await fetch('http://127.0.0.1:10001/v1/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': `bench-${i}-${Math.random()}` },
        body: JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: 4 }),
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    for (const p of fleet.prefill) expect(p.stats().prefillRequests, p.url).toBe(p.url === prefillOwner ? 3 : 0);
    for (const p of fleet.decode) expect(p.stats().requests, p.url).toBe(p.url === decodeOwner ? 3 : 0);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    expect(await proxy.stop('SIGTERM')).toBe(0);
  });
});
