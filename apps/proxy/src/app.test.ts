// Every error row and the lifecycle endpoints, driven in-process with app.request() (no sockets for the
// client side; the 502/504 rows use real closed ports / a real stalled listener).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Snapshot } from '@pdrouter/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from './config.ts';
import { parseFlags } from './flags.ts';
import { createProxy, type ProxyInstance } from './proxy.ts';
import type { SnapshotSource } from './snapshot-source.ts';

const post = (proxy: ProxyInstance, path: string, body: string, headers: Record<string, string> = {}) =>
  proxy.app.request(path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

async function errorOf(
  res: Response,
): Promise<{ status: number; type: string; code: unknown; message: string; param: unknown }> {
  const body = (await res.json()) as { error: { type: string; code: unknown; message: string; param: unknown } };
  expect(typeof body.error.message).toBe('string');
  return { status: res.status, ...body.error };
}

async function makeProxy(argv: string[], source?: SnapshotSource): Promise<ProxyInstance> {
  const proxy = await createProxy(buildConfig(parseFlags(argv)), {
    defaultMetrics: false,
    ...(source ? { source } : {}),
  });
  await proxy.start();
  return proxy;
}

/** A port with nothing listening: connections are refused. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('error rows (in-process)', () => {
  let proxy: ProxyInstance;
  let deadUrl: string;
  beforeAll(async () => {
    deadUrl = `http://127.0.0.1:${await closedPort()}`;
    proxy = await makeProxy([
      '--pd-disaggregation',
      '--prefill',
      deadUrl,
      '--decode',
      deadUrl,
      '--max-payload-size',
      '1000',
      '--retry-max-retries',
      '0',
    ]);
  });
  afterAll(() => proxy.close());

  it('404 on an unknown route', async () => {
    const e = await errorOf(await proxy.app.request('/v1/nothing'));
    expect(e).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('405 on a known route with the wrong method, naming the allowed one', async () => {
    const res = await proxy.app.request('/v1/completions');
    expect(res.headers.get('allow')).toBe('POST');
    expect(await errorOf(res)).toMatchObject({ status: 405, code: 'method_not_allowed' });
    const r2 = await proxy.app.request('/readiness', { method: 'POST' });
    expect(r2.status).toBe(405);
  });

  it('400 on malformed JSON', async () => {
    const e = await errorOf(await post(proxy, '/v1/completions', '{"prompt": '));
    expect(e).toMatchObject({ status: 400, code: 'invalid_json' });
  });

  it('400 on a body that is not an object', async () => {
    for (const body of ['[1,2]', '"text"', 'null', '42']) {
      const e = await errorOf(await post(proxy, '/v1/chat/completions', body));
      expect(e).toMatchObject({ status: 400, code: 'invalid_request' });
    }
  });

  it('400 when prompt / messages / input is missing, naming the field', async () => {
    expect(await errorOf(await post(proxy, '/v1/completions', '{"model":"m"}'))).toMatchObject({
      status: 400,
      param: 'prompt',
    });
    expect(await errorOf(await post(proxy, '/v1/chat/completions', '{"model":"m"}'))).toMatchObject({
      status: 400,
      param: 'messages',
    });
    expect(await errorOf(await post(proxy, '/v1/responses', '{"model":"m"}'))).toMatchObject({
      status: 400,
      param: 'input',
    });
  });

  it('400 on an empty body', async () => {
    expect(await errorOf(await post(proxy, '/v1/completions', ''))).toMatchObject({ status: 400 });
  });

  it('413 on a body over --max-payload-size', async () => {
    const big = JSON.stringify({ prompt: 'x'.repeat(2000) });
    const e = await errorOf(await post(proxy, '/v1/completions', big));
    expect(e).toMatchObject({ status: 413, code: 'payload_too_large' });
  });

  it('502 when every pod refuses the connection', async () => {
    const e = await errorOf(await post(proxy, '/v1/completions', '{"prompt":"hello"}'));
    expect(e).toMatchObject({ status: 502, code: 'upstream_error' });
    expect(e.message).toContain('prefill');
    expect(e.message).not.toContain('at ');
  });

  it('never leaks internals for odd but valid JSON', async () => {
    for (const body of ['{"prompt":{"a":[1,{"b":null}]}}', '{"messages":"not-a-list"}', '{"prompt":1e999}']) {
      const res = await post(proxy, body.includes('messages') ? '/v1/chat/completions' : '/v1/completions', body);
      // 503 once the dead decode pod is ejected: no prefill is run for a request no decode pod can take.
      expect([400, 502, 503]).toContain(res.status);
      const text = await res.text();
      expect(text).toMatch(/^\{"error":/);
    }
  });

  it('400 (not 500) for a body nested too deeply to forward', async () => {
    const roomy = await makeProxy(['--pd-disaggregation', '--prefill', deadUrl, '--decode', deadUrl]);
    try {
      const deep = `{"prompt":${'['.repeat(50_000)}${']'.repeat(50_000)}}`;
      expect(await errorOf(await post(roomy, '/v1/completions', deep))).toMatchObject({
        status: 400,
        code: 'invalid_request',
      });
    } finally {
      await roomy.close();
    }
  });

  it('/health and /liveness answer 200; /readiness 503 while no pod answers its health endpoint', async () => {
    expect((await proxy.app.request('/health')).status).toBe(200);
    expect((await proxy.app.request('/liveness')).status).toBe(200);
    const r = await proxy.app.request('/readiness');
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ reason: 'waiting for the pods to answer their health endpoint' });
  });

  it('/admin/state shows the snapshot and the rings', async () => {
    const state = (await (await proxy.app.request('/admin/state')).json()) as {
      mode: string;
      snapshot: { seq: number; fingerprint: string };
      rings: { prefill: { members: string[]; fingerprint: string; vnodes: number } };
    };
    expect(state.mode).toBe('pd');
    expect(state.snapshot.seq).toBe(0);
    expect(state.rings.prefill.members).toEqual([deadUrl]);
    expect(state.rings.prefill.vnodes).toBe(160);
    expect(state.rings.prefill.fingerprint).toMatch(/^[0-9a-f]+$/);
  });
});

describe('504 when the pod does not answer in time', () => {
  let stalled: Server;
  let url: string;
  beforeAll(async () => {
    // Accepts the request and never answers.
    stalled = createServer(() => {});
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    stalled.closeAllConnections();
    await new Promise<void>((r) => stalled.close(() => r()));
  });

  it('answers 504 when a stream has no headers within --first-byte-timeout-ms', async () => {
    const proxy = await makeProxy(['--worker-urls', url, '--first-byte-timeout-ms', '300', '--retry-max-retries', '0']);
    try {
      const e = await errorOf(await post(proxy, '/v1/completions', '{"prompt":"hi","stream":true}'));
      expect(e).toMatchObject({ status: 504, code: 'upstream_timeout' });
      expect(e.message).toContain('first_byte_timeout');
    } finally {
      await proxy.close();
    }
  });

  it('waits for a non-streaming answer up to --request-timeout-secs (its headers come with the whole answer)', async () => {
    const proxy = await makeProxy([
      '--worker-urls',
      url,
      '--first-byte-timeout-ms',
      '100',
      '--request-timeout-secs',
      '2',
    ]);
    try {
      const started = Date.now();
      const e = await errorOf(await post(proxy, '/v1/completions', '{"prompt":"hi"}'));
      expect(e).toMatchObject({ status: 504, code: 'upstream_timeout' });
      expect(e.message).toContain('--request-timeout-secs');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    } finally {
      await proxy.close();
    }
  });
});

describe('ingress API keys', () => {
  let proxy: ProxyInstance;
  beforeAll(async () => {
    proxy = await makeProxy([
      '--worker-urls',
      'http://127.0.0.1:9',
      '--ingress-api-key',
      'secret-1',
      '--ingress-api-key',
      'secret-2',
    ]);
  });
  afterAll(() => proxy.close());

  it('401 without a key or with a wrong one, on /v1 and /admin', async () => {
    expect(await errorOf(await post(proxy, '/v1/completions', '{"prompt":"x"}'))).toMatchObject({
      status: 401,
      code: 'unauthorized',
    });
    expect((await post(proxy, '/v1/completions', '{"prompt":"x"}', { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await proxy.app.request('/admin/state')).status).toBe(401);
    expect((await proxy.app.request('/admin/state', { headers: { authorization: 'Bearer secret-2' } })).status).toBe(
      200,
    );
  });

  it('lets a valid key through and keeps health endpoints open', async () => {
    const res = await post(proxy, '/v1/completions', '{}', { authorization: 'Bearer secret-1' });
    expect(res.status).toBe(400);
    expect((await proxy.app.request('/health')).status).toBe(200);
    // Answered without a key (503 here: the pod at :9 never answers its health endpoint), not 401.
    expect((await proxy.app.request('/readiness')).status).toBe(503);
  });
});

describe('no members and draining', () => {
  const snapshot = (seq: number, decode: string[]): Snapshot => ({
    pool: 'default',
    epoch: 1,
    seq,
    time: new Date().toISOString(),
    members: {
      prefill: [{ name: 'p0', uid: 'u-p0', url: 'http://127.0.0.1:9', ready: true }],
      decode: decode.map((url, i) => ({ name: `d${i}`, uid: `u-d${i}`, url, ready: true })),
      plain: [],
    },
  });
  let apply: (s: Snapshot) => void = () => {};
  const source: SnapshotSource = {
    description: 'test',
    async start(a) {
      apply = a;
      a(snapshot(1, []));
    },
    async close() {},
  };
  let proxy: ProxyInstance;
  beforeAll(async () => {
    proxy = await makeProxy(['--pd-disaggregation', '--snapshot-file', '/unused'], source);
  });
  afterAll(() => proxy.close());

  it('503 no_members and readiness false without decode pods', async () => {
    const e = await errorOf(await post(proxy, '/v1/completions', '{"prompt":"x"}'));
    expect(e).toMatchObject({ status: 503, code: 'no_members' });
    const r = await proxy.app.request('/readiness');
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ reason: 'no decode members' });
  });

  it('applies a newer snapshot and ignores an older one', async () => {
    apply(snapshot(2, ['http://127.0.0.1:9']));
    await proxy.state.settled();
    expect((await proxy.app.request('/readiness')).status).toBe(200);
    apply(snapshot(1, []));
    await proxy.state.settled();
    expect(proxy.state.table?.snapshot.seq).toBe(2);
    expect((await proxy.app.request('/readiness')).status).toBe(200);
  });

  it('503 draining and readiness false once draining', async () => {
    expect(await proxy.drain(1000)).toBe(true);
    expect(await errorOf(await post(proxy, '/v1/completions', '{"prompt":"x"}'))).toMatchObject({
      status: 503,
      code: 'draining',
    });
    expect((await proxy.app.request('/readiness')).status).toBe(503);
    expect((await proxy.app.request('/liveness')).status).toBe(200);
  });
});
