// vllm-router command lines with every flag pdrouter implements, run as processes against a real sim process
// (and the Kubernetes API fake for the discovery flags). First the coverage check: each implemented flag of
// the vllm-router tables is on one of these command lines, so a newly implemented flag must be added here.
// Then what each line's flags promise is checked where it shows from outside (other suites test the rest).

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlagSpec } from '@pdrouter/cli';
import { ConsistentHashRing, extractHashKey, fbiHash, headerLookupFrom } from '@pdrouter/core';
import { type KubeApiFake, registerSimPods, startKubeApiFake } from '@pdrouter/testkit';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VLLM_ROUTER_FLAGS } from '../src/flags/vllm-router.ts';
import { VLLM_ROUTER_RESILIENCE_FLAGS } from '../src/flags/vllm-router-resilience.ts';
import { e2eFixture } from './fixture.ts';
import { listenLocal as listen, MODEL, type ProxyProcess, type SimProcess, waitFor } from './helpers.ts';

const GOOD_KEY = 'sk-client-good';

/** vllm-router's defaults for flags other parts of pdrouter implement: used once their table says so. */
const DEFAULT_VALUES: Record<string, string[]> = {
  'retry-max-retries': ['2'],
  'retry-initial-backoff-ms': ['50'],
  'retry-max-backoff-ms': ['30000'],
  'retry-backoff-multiplier': ['1.5'],
  'retry-jitter-factor': ['0.2'],
  'cb-failure-threshold': ['10'],
  'cb-success-threshold': ['3'],
  'cb-timeout-duration-secs': ['60'],
  'cb-window-duration-secs': ['120'],
  'health-check-interval-secs': ['60'],
  'health-failure-threshold': ['3'],
  'health-success-threshold': ['2'],
  'health-check-endpoint': ['/health'],
  'health-check-timeout-secs': ['5'],
  'worker-startup-timeout-secs': ['60'],
  'worker-startup-check-interval': ['1'],
  'disable-circuit-breaker': [],
  'cache-threshold': ['0.3'],
  'balance-abs-threshold': ['64'],
  'balance-rel-threshold': ['1.5'],
  'eviction-interval': ['120'],
  'max-tree-size': ['67108864'],
};
/** Flags that cannot share a command line with the others: each is on a line of its own below. */
const ELSEWHERE = new Set([
  'disable-retries', // turns retries off: the main line keeps them (--retry-max-retries)
  'worker-urls',
  'service-discovery',
  'selector',
  'service-discovery-port',
  'service-discovery-namespace',
  'prefill-selector',
  'decode-selector',
]);

const implemented = [...VLLM_ROUTER_FLAGS, ...VLLM_ROUTER_RESILIENCE_FLAGS].filter(
  (f: FlagSpec) => f.status === undefined,
);

const e2e = e2eFixture();
let sim: SimProcess;
let validator: Server;
let collector: Server;
const traces: string[] = [];
let dir: string;

function decodeOwner(headers: Record<string, string>, body: unknown, kind: 'pd' | 'vllm-pd'): string {
  const key = extractHashKey(headerLookupFrom(headers), body, { mode: 'vllm-router', router: kind });
  const ring = new ConsistentHashRing(sim.urls('decode'));
  return ring.walkHash(fbiHash(key))[0] as string;
}

beforeAll(async () => {
  sim = await e2e.sim({ prefill: 2, decode: 3, plain: 2 });
  validator = createServer((req: IncomingMessage, res) => {
    res.writeHead(req.headers.authorization === `Bearer ${GOOD_KEY}` ? 200 : 401).end();
  });
  collector = createServer((req, res) => {
    traces.push(req.url ?? '');
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  dir = mkdtempSync(join(tmpdir(), 'pdrouter-flags-e2e-'));
});

afterAll(async () => {
  await new Promise<void>((r) => (validator?.listening ? validator.close(() => r()) : r()));
  await new Promise<void>((r) => (collector?.listening ? collector.close(() => r()) : r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a vllm-router command line with every implemented flag', () => {
  const local = e2eFixture();
  let main: string[];
  let proxy: ProxyProcess;

  beforeAll(async () => {
    const [p0, p1] = sim.urls('prefill');
    main = [
      '--pd-disaggregation',
      '--vllm-pd-disaggregation',
      '--prefill',
      p0 as string,
      '5600',
      '--prefill',
      p1 as string,
      'none',
      ...sim.urls('decode').flatMap((u) => ['--decode', u]),
      '--policy',
      'consistent_hash',
      '--prefill-policy',
      'round_robin',
      '--decode-policy',
      'consistent_hash',
      '--intra-node-data-parallel-size',
      '1',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--prometheus-host',
      '127.0.0.2',
      '--prometheus-port',
      '0',
      '--request-timeout-secs',
      '60',
      '--max-payload-size',
      '65536',
      '--api-key',
      'sk-pods',
      '--log-level',
      'debug',
      '--max-concurrent-requests',
      '64',
      '--api-key-validation-urls',
      await listen(validator),
      '--backend',
      'vllm',
      '--log-dir',
      join(dir, 'logs'),
      '--enable-trace',
      '--otlp-traces-endpoint',
      (await listen(collector)).replace('http://', ''),
      '--otel-sampling-ratio',
      '1',
      '--otel-excluded-paths',
      '/v1/models',
      '--request-id-headers',
      'x-my-request-id',
      '--cors-allowed-origins',
      'https://app.example',
      '--kv-connector',
      'nixl',
    ];
    for (const f of implemented) {
      const values = DEFAULT_VALUES[f.name];
      if (values !== undefined && !main.includes(`--${f.name}`)) main.push(`--${f.name}`, ...values);
    }
    proxy = await local.proxyProcess(main);
  });

  it('covers every implemented vllm-router flag (this line or the discovery lines below)', () => {
    const missing = implemented.map((f) => f.name).filter((n) => !main.includes(`--${n}`) && !ELSEWHERE.has(n));
    expect(missing).toEqual([]);
    expect(proxy.child.lines.filter((l) => l.includes('"level":"warn"'))).toEqual([]);
  });

  const complete = async (body: Record<string, unknown>, headers: Record<string, string> = {}) => {
    const res = await request(`${proxy.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${GOOD_KEY}`, ...headers },
      body: JSON.stringify({ model: MODEL, max_tokens: 4, ...body }),
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };

  it('checks client keys with the validation URL and echoes the client id from --request-id-headers', async () => {
    const denied = await request(`${proxy.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' },
      body: JSON.stringify({ model: MODEL, prompt: 'x', max_tokens: 2 }),
    });
    await denied.body.text();
    expect(denied.statusCode).toBe(401);
    const r = await complete({ prompt: 'hello' }, { 'x-my-request-id': 'client-id-1' });
    expect(r.status, r.text).toBe(200);
    expect(r.headers['x-request-id']).toBe('client-id-1');
  });

  it('routes prefill round-robin (--prefill-policy) and decode by the --vllm-pd-disaggregation key', async () => {
    const before = await sim.stats();
    const headers = { 'x-session-id': 'flags-e2e' };
    // Prompts whose owner under the header (vllm-pd key) differs from the prompt-only key (pd key).
    const prompts = Array.from({ length: 40 }, (_, i) => `prompt ${i}`)
      .filter((p) => decodeOwner(headers, { prompt: p }, 'vllm-pd') !== decodeOwner(headers, { prompt: p }, 'pd'))
      .slice(0, 4);
    expect(prompts).toHaveLength(4);
    for (const prompt of prompts) expect((await complete({ prompt }, headers)).status).toBe(200);
    const after = await sim.stats();
    const delta = (name: string, key: 'requests' | 'prefillRequests') =>
      (after[name]?.[key] ?? 0) - (before[name]?.[key] ?? 0);
    const owner = sim.pods.find((p) => p.url === decodeOwner(headers, { prompt: prompts[0] }, 'vllm-pd'))?.name;
    expect(delta(owner as string, 'requests')).toBe(4);
    expect(delta('prefill-0', 'prefillRequests')).toBe(2);
    expect(delta('prefill-1', 'prefillRequests')).toBe(2);
  });

  it('answers CORS preflights for the allowed origin and refuses bodies over --max-payload-size', async () => {
    const pre = await request(`${proxy.url}/v1/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    await pre.body.text();
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example');
    const big = await complete({ prompt: 'x'.repeat(70_000) });
    expect(big.status).toBe(413);
  });

  it('serves metrics on --prometheus-host, exports spans, logs debug lines to stdout and --log-dir', async () => {
    expect(new URL(proxy.metricsUrl).hostname).toBe('127.0.0.2');
    const metrics = await request(proxy.metricsUrl);
    expect(metrics.statusCode).toBe(200);
    expect(await metrics.body.text()).toContain('vllm_router_requests_total');
    await waitFor('spans exported', () => (traces.some((p) => p.startsWith('/v1/traces')) ? true : undefined), 15_000);
    await waitFor('a debug request line', () =>
      proxy.child.lines.some((l) => l.includes('"level":"debug"') && l.includes('"msg":"request"')) ? true : undefined,
    );
    const files = readdirSync(join(dir, 'logs'));
    expect(readFileSync(join(dir, 'logs', files[0] as string), 'utf8')).toContain('"msg":"listening"');
  });

  it('keeps answering /v1/models while the pod it would ask first is down, and drains on SIGTERM', async () => {
    const auth = { authorization: `Bearer ${GOOD_KEY}` };
    const state = (await (await request(`${proxy.url}/admin/state`, { headers: auth })).body.json()) as {
      rings: { decode: { members: string[] } };
    };
    const first = sim.pods.find((p) => p.url === state.rings.decode.members[0])?.name as string;
    await sim.post(`/pods/${first}/stop`);
    try {
      for (let i = 0; i < 3; i++) {
        const res = await request(`${proxy.url}/v1/models`, { headers: auth });
        const body = (await res.body.json()) as { data?: { id: string }[] };
        expect(res.statusCode).toBe(200);
        expect(body.data?.map((m) => m.id)).toContain(MODEL);
      }
    } finally {
      await sim.post(`/pods/${first}/start`);
    }
    expect(await proxy.child.stop('SIGTERM')).toBe(0);
  });
});

describe('vllm-router command lines with the discovery flags', () => {
  const local = e2eFixture();
  let fake: KubeApiFake;

  beforeAll(async () => {
    fake = local.adopt('the Kubernetes API fake', await startKubeApiFake(), (f) => f.close());
    for (const p of sim.pods) {
      registerSimPods(fake, [{ name: p.name, role: p.role, port: Number(new URL(p.url).port) }]);
    }
  });

  it('plain mode: --service-discovery --selector --service-discovery-port --service-discovery-namespace', async () => {
    const proxy = await local.proxyProcess(
      [
        '--service-discovery',
        '--selector',
        'llm-d.ai/role=plain',
        'app.kubernetes.io/name=vllm',
        '--service-discovery-port',
        '8000',
        '--service-discovery-namespace',
        fake.namespace,
        '--policy',
        'round_robin',
        '--disable-retries',
        '--port',
        '0',
        '--prometheus-port',
        '0',
      ],
      { env: { ...process.env, KUBECONFIG: fake.kubeconfigPath } },
    );
    try {
      const plain = sim.urls('both');
      await waitFor('plain ring', async () => {
        const s = (await (await request(`${proxy.url}/admin/state`)).body.json()) as {
          rings: { plain: { members: string[] } } | null;
        };
        return s.rings?.plain.members.length === plain.length ? s.rings.plain.members : undefined;
      });
      const res = await request(`${proxy.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, prompt: 'plain', max_tokens: 2 }),
      });
      expect(res.statusCode, await res.body.text()).toBe(200);
    } finally {
      await proxy.child.stop();
    }
  });
});
