// What the pods receive, byte for byte where it matters: a recording HTTP server plays the prefill and the
// decode pod (answering like vLLM with a kv connector) and keeps every request it saw.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PREFILL_KV_TRANSFER_PARAMS } from '@pdrouter/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from './config.ts';
import { parseFlags } from './flags.ts';
import { createProxy, type ProxyInstance } from './proxy.ts';

interface Seen {
  role: 'prefill' | 'decode';
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** The body's bytes as received. */
  raw: string;
}

const KV_FROM_PREFILL = {
  do_remote_prefill: true,
  do_remote_decode: false,
  remote_engine_id: 'engine-7',
  remote_block_ids: [1, 2, 3],
  remote_host: '10.0.0.1',
  remote_port: 5600,
  remote_request_id: 'abc',
  tp_size: 1,
};

const seen: Seen[] = [];

function recordingPod(role: 'prefill' | 'decode' | 'prefill-without-kv'): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    // The router's health probes (start-up wait, active checks), answered as vLLM does.
    if (req.method === 'GET' && req.url === '/health') return void res.end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = JSON.parse(raw) as Record<string, unknown>;
      seen.push({
        role: role === 'decode' ? 'decode' : 'prefill',
        path: req.url ?? '',
        headers: req.headers,
        body,
        raw,
      });
      if (role === 'prefill-without-kv') {
        // A pod started without a kv connector: a normal answer, no kv_transfer_params.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'cmpl-p', choices: [{ text: 'x' }] }));
        return;
      }
      if (role === 'prefill') {
        res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive', 'keep-alive': 'timeout=5' });
        res.end(JSON.stringify({ id: 'cmpl-p', choices: [{ text: 'x' }], kv_transfer_params: KV_FROM_PREFILL }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-pod-header': 'pod only' });
      res.write('data: {"choices":[{"text":"hello"}]}\n\n');
      res.end('data: [DONE]\n\n');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

let prefill: { server: Server; url: string };
let decode: { server: Server; url: string };

beforeAll(async () => {
  prefill = await recordingPod('prefill');
  decode = await recordingPod('decode');
});

afterAll(async () => {
  for (const p of [prefill, decode]) {
    p.server.closeAllConnections();
    await new Promise<void>((r) => p.server.close(() => r()));
  }
});

afterEach(() => {
  seen.length = 0;
});

async function proxyWith(extra: string[] = []): Promise<ProxyInstance> {
  const proxy = await createProxy(
    buildConfig(parseFlags(['--pd-disaggregation', '--prefill', prefill.url, '--decode', decode.url, ...extra])),
    {
      defaultMetrics: false,
    },
  );
  await proxy.start();
  return proxy;
}

describe('the legs on the wire', () => {
  it('sends the vLLM P/D legs: one request id, prefill rewritten, kv params verbatim to decode', async () => {
    const proxy = await proxyWith();
    try {
      const client = {
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 50,
        max_completion_tokens: 50,
        min_tokens: 3,
      };
      const res = await proxy.app.request('/v1/chat/completions', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-request-id': 'client-chosen',
          'x-custom': 'forwarded',
          connection: 'keep-alive, x-drop-me',
          'x-drop-me': 'hop-by-hop',
          'proxy-authorization': 'secret',
          authorization: 'Bearer client-key',
        },
        body: JSON.stringify(client),
      });
      expect(await res.text()).toContain('data: [DONE]');
      // Not on the allow-list of relayed headers (headers.ts): the pod's own headers stay with the router.
      expect(res.headers.get('x-pod-header')).toBeNull();
      const p = seen.find((s) => s.role === 'prefill') as Seen;
      const d = seen.find((s) => s.role === 'decode') as Seen;
      expect(p.path).toBe('/v1/chat/completions');
      expect(d.path).toBe('/v1/chat/completions');
      // One id for both legs: the client's with a unique suffix (a uuid); the client gets its own back.
      expect(p.headers['x-request-id']).toMatch(/^client-chosen-[0-9a-f-]{36}$/);
      expect(d.headers['x-request-id']).toBe(p.headers['x-request-id']);
      expect(res.headers.get('x-request-id')).toBe('client-chosen');
      // End-to-end headers pass, hop-by-hop ones (and those named in Connection) do not.
      for (const s of [p, d]) {
        expect(s.headers['x-custom']).toBe('forwarded');
        expect(s.headers['x-drop-me']).toBeUndefined();
        expect(s.headers['proxy-authorization']).toBeUndefined();
        expect(s.headers.authorization).toBe('Bearer client-key');
      }
      // docs/design.md §2.3
      expect(p.body).toMatchObject({
        stream: false,
        max_tokens: 1,
        max_completion_tokens: 1,
        kv_transfer_params: PREFILL_KV_TRANSFER_PARAMS,
      });
      expect(p.body.stream_options).toBeUndefined();
      expect(p.body.min_tokens).toBeUndefined();
      // docs/design.md §2.5: the client's body, with the prefill's kv params verbatim.
      expect(d.body).toEqual({ ...client, kv_transfer_params: KV_FROM_PREFILL });
    } finally {
      await proxy.close();
    }
  });

  it("sends the client's bytes to decode unchanged (big integers, number spelling), kv params added", async () => {
    const proxy = await proxyWith();
    try {
      // JSON.parse + JSON.stringify would turn the seed into 12345678901234567000 and 1.50 into 1.5.
      const client = '{ "model": "m", "prompt": "caf\\u00e9 ☕", "seed": 12345678901234567890, "temperature": 1.50 }\n';
      const res = await proxy.app.request('/v1/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: client,
      });
      expect(res.status).toBe(200);
      await res.text();
      const d = seen.find((x) => x.role === 'decode') as Seen;
      expect(d.raw).toBe(
        `{ "model": "m", "prompt": "caf\\u00e9 ☕", "seed": 12345678901234567890, "temperature": 1.50 ,"kv_transfer_params":${JSON.stringify(KV_FROM_PREFILL)}}`,
      );
      expect(d.body.kv_transfer_params).toEqual(KV_FROM_PREFILL);
    } finally {
      await proxy.close();
    }
  });

  it("replaces a kv_transfer_params the client sent itself with the prefill pod's", async () => {
    const proxy = await proxyWith();
    try {
      const res = await proxy.app.request('/v1/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'x', kv_transfer_params: { forged: true } }),
      });
      expect(res.status).toBe(200);
      await res.text();
      const d = seen.find((x) => x.role === 'decode') as Seen;
      expect(d.body.kv_transfer_params).toEqual(KV_FROM_PREFILL);
      expect(d.raw.match(/kv_transfer_params/g)?.length).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a body that is not valid UTF-8 (400) before any leg is sent', async () => {
    const proxy = await proxyWith();
    try {
      const res = await proxy.app.request('/v1/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.concat([Buffer.from('{"prompt":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
      expect(seen).toHaveLength(0);
    } finally {
      await proxy.close();
    }
  });

  it('sends --api-key to the pods instead of the client authorization', async () => {
    const proxy = await proxyWith(['--api-key', 'sk-backend']);
    try {
      await (
        await proxy.app.request('/v1/completions', {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer client-key' },
          body: JSON.stringify({ prompt: 'x' }),
        })
      ).text();
      expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer sk-backend', 'Bearer sk-backend']);
    } finally {
      await proxy.close();
    }
  });

  it('never forwards an ingress key to the pods', async () => {
    const proxy = await proxyWith(['--ingress-api-key', 'ingress-secret']);
    try {
      const res = await proxy.app.request('/v1/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer ingress-secret' },
        body: JSON.stringify({ prompt: 'x' }),
      });
      expect(res.status).toBe(200);
      await res.text();
      expect(seen).toHaveLength(2);
      for (const s of seen) expect(s.headers.authorization).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });

  it('never runs decode without kv params when prefill answered without them (502 instead)', async () => {
    const bare = await recordingPod('prefill-without-kv');
    const proxy = await createProxy(
      buildConfig(parseFlags(['--pd-disaggregation', '--prefill', bare.url, '--decode', decode.url])),
      {
        defaultMetrics: false,
      },
    );
    await proxy.start();
    try {
      const res = await proxy.app.request('/v1/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'x' }),
      });
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain('bad_prefill_response');
      expect(seen.map((s) => s.role)).toEqual(['prefill']);
    } finally {
      await proxy.close();
      bare.server.closeAllConnections();
      await new Promise<void>((r) => bare.server.close(() => r()));
    }
  });
});
