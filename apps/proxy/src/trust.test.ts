// What crosses the router and what does not: pods' response headers only from an allow-list, where-from
// headers written by the router, no client data-parallel rank, no pod addresses or socket errors in
// client bodies, /admin/state only on loopback without ingress keys.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestProxy, type TestProxy } from '../test/test-proxy.ts';
import { isLoopback } from './app.ts';
import { buildConfig } from './config.ts';
import { parseFlags } from './flags.ts';
import { createProxy } from './proxy.ts';
import { midStreamErrorEvent } from './relay.ts';

const KV = { remote_engine_id: 'e', remote_block_ids: [1], remote_host: '127.0.0.1', remote_port: 1 };

describe('headers between clients and pods', () => {
  let fixture: TestProxy;
  const seen: Record<string, string | string[] | undefined>[] = [];
  beforeAll(async () => {
    fixture = await startTestProxy((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => {
        res.setHeader('set-cookie', ['session=pod-secret; HttpOnly']);
        res.setHeader('server', 'uvicorn');
        res.setHeader('x-internal-node', 'gpu-node-17.internal');
        res.setHeader('cache-control', 'no-store');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ text: 'ok' }], kv_transfer_params: KV }));
      });
    });
  });
  afterAll(() => fixture.close());

  it("relays only allow-listed pod headers: no Set-Cookie, Server or the pod's own headers", async () => {
    const res = await fetch(`${fixture.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x' }),
    });
    await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}/);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('x-internal-node')).toBeNull();
    expect(res.headers.get('server')).toBeNull();
  });

  it('writes X-Forwarded-For / X-Real-IP / Forwarded itself and drops a client data-parallel rank', async () => {
    seen.length = 0;
    const res = await fetch(`${fixture.url}/v1/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-forwarded-for': '6.6.6.6',
        'x-real-ip': '6.6.6.6',
        forwarded: 'for=6.6.6.6',
        'x-forwarded-host': 'evil.example',
        'x-data-parallel-rank': '7',
        'x-custom': 'kept',
      },
      body: JSON.stringify({ prompt: 'x' }),
    });
    await res.text();
    expect(seen.length).toBe(2);
    for (const h of seen) {
      expect(h['x-forwarded-for']).toBe('127.0.0.1');
      expect(h['x-real-ip']).toBe('127.0.0.1');
      expect(h.forwarded).toBe('for=127.0.0.1;proto=http');
      expect(h['x-forwarded-host']).toBeUndefined();
      expect(h['x-data-parallel-rank']).toBeUndefined();
      expect(h['x-custom']).toBe('kept');
    }
  });
});

describe('no pod internals in client bodies', () => {
  it('a 502 on /v1/models names the kind of failure, not the address or the socket error', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    await new Promise<void>((r) => dead.close(() => r()));
    const proxy = await createProxy(buildConfig(parseFlags(['--worker-urls', deadUrl])), { defaultMetrics: false });
    await proxy.start();
    try {
      const res = await proxy.app.request('/v1/models');
      const text = await res.text();
      expect(res.status).toBe(502);
      expect(text).toContain('connect_refused');
      expect(text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|:\d{4,5}/);
    } finally {
      await proxy.close();
    }
  });

  it('a mid-stream error event carries the kind, not the message', () => {
    const event = midStreamErrorEvent({
      kind: 'connection_reset',
      timeout: false,
      message: 'read ECONNRESET 10.4.5.6:8000',
    });
    expect(event).toContain('connection_reset');
    expect(event).not.toContain('10.4.5.6');
    expect(event).not.toContain('ECONNRESET');
  });
});

describe('/admin/state without ingress keys', () => {
  it('answers loopback peers and in-process requests, refuses anyone else with 403', async () => {
    const proxy = await createProxy(buildConfig(parseFlags(['--worker-urls', 'http://127.0.0.1:9'])), {
      defaultMetrics: false,
    });
    await proxy.start();
    try {
      const from = (remoteAddress: string) =>
        proxy.app.request('/admin/state', {}, { incoming: { socket: { remoteAddress } } });
      expect((await proxy.app.request('/admin/state')).status).toBe(200);
      expect((await from('127.0.0.1')).status).toBe(200);
      expect((await from('::1')).status).toBe(200);
      expect((await from('::ffff:127.0.0.1')).status).toBe(200);
      const res = await from('10.2.3.4');
      expect(res.status).toBe(403);
      const body = (await res.json()) as { error: { type: string; code: string; message: string } };
      expect(body.error).toMatchObject({ type: 'permission_error', code: 'forbidden' });
      expect(JSON.stringify(body)).not.toContain('127.0.0.1:9');
    } finally {
      await proxy.close();
    }
  });

  it('knows loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a), a).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '192.168.1.1', 'fe80::1', '::'])
      expect(isLoopback(a), a).toBe(false);
  });
});
