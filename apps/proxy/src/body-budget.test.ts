// The memory budget for bodies on real sockets: limits checked while reading, 503 with Retry-After past
// the shared budget (counted), 415 for bodies that are not JSON, and the budget back to 0 afterwards.
import { connect } from 'node:net';
import { waitUntil } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestProxy, type TestProxy } from '../test/test-proxy.ts';
import { buildConfig } from './config.ts';
import { parseFlags } from './flags.ts';
import type { ProxyInstance } from './proxy.ts';

const KV = { remote_engine_id: 'e', remote_block_ids: [1], remote_host: '127.0.0.1', remote_port: 1 };

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return {
    status: res.status,
    headers: res.headers,
    json: (await res.json()) as { error?: { code: string; message: string; type: string } },
  };
}

/**
 * A POST that declares `declared` bytes and sends only the start of them, read on a raw socket: the
 * answer to a body refused up front, which no fetch client reads while its own upload is unfinished.
 */
function declaredPost(
  url: string,
  declared: number,
): Promise<{ status: number; headers: Map<string, string>; json: { error?: { code: string; type: string } } }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    const timer = setTimeout(() => finish(new Error('no answer within 10 s')), 10_000);
    let text = '';
    const finish = (err?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) return reject(err);
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = new Map(
        lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(statusLine.split(' ')[1]), headers, json: JSON.parse(body) });
    };
    socket.on('error', (err) => finish(err));
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      if (end >= 0 && length && text.length >= end + 4 + Number(length[1])) finish();
    });
    socket.write(
      `POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${declared}\r\n\r\n{"prompt":"`,
    );
  });
}

async function metric(fixture: TestProxy, name: string): Promise<number> {
  const text = await (await fetch(fixture.metricsUrl, { signal: AbortSignal.timeout(5000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

describe('request body budget', () => {
  let fixture: TestProxy;
  let proxy: ProxyInstance;
  let podBodies = 0;
  beforeAll(async () => {
    fixture = await startTestProxy(
      (req, res) => {
        req.resume();
        req.on('end', () => {
          podBodies++;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ choices: [{ text: 'ok' }], kv_transfer_params: KV }));
        });
      },
      { flags: ['--max-payload-size', '4000000', '--max-buffered-body-bytes', '5000000'] },
    );
    proxy = fixture.proxy;
  });
  afterAll(() => fixture.close());

  it('defaults: 8 MiB per body, 256 MiB over all bodies; the shared cap cannot be below one body', () => {
    const c = buildConfig(parseFlags(['--worker-urls', 'http://p:1']));
    expect(c.maxPayloadBytes).toBe(8 * 1024 * 1024);
    expect(c.maxBufferedBodyBytes).toBe(256 * 1024 * 1024);
    expect(() =>
      buildConfig(
        parseFlags(['--worker-urls', 'http://p:1', '--max-payload-size', '10', '--max-buffered-body-bytes', '9']),
      ),
    ).toThrow(/--max-buffered-body-bytes \(9\) must be >= --max-payload-size \(10\)/);
  });

  it('refuses a body of a million empty objects with 413 before the pod sees it', async () => {
    const before = podBodies;
    const r = await post(fixture.url, `{"prompt":[${'{},'.repeat(1_000_000)}{}]}`);
    expect(r.status).toBe(413);
    expect(r.json.error?.code).toBe('payload_too_large');
    expect(r.json.error?.message).toMatch(/JSON objects and arrays/);
    expect(podBodies).toBe(before);
  });

  it('refuses a body nested too deeply with 400', async () => {
    const r = await post(fixture.url, `{"prompt":"x","a":${'['.repeat(100)}${']'.repeat(100)}}`);
    expect(r.status).toBe(400);
    expect(r.json.error?.type).toBe('invalid_request_error');
  });

  it('answers 503 with Retry-After when bodies in flight hold the shared budget, counted, and frees it after', async () => {
    const rejectedBefore = await metric(fixture, 'pdrouter_body_budget_rejections_total');
    // A client declares 3 MB and sends only part of it: the budget holds its declared bytes.
    const u = new URL(fixture.url);
    const slow = connect(Number(u.port), u.hostname);
    slow.on('error', () => {});
    slow.write(
      'POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 3000000\r\n\r\n{"prompt":"',
    );
    try {
      await waitUntil(async () => (await metric(fixture, 'pdrouter_buffered_body_bytes')) === 3_000_000 || undefined, {
        timeoutMs: 5000,
        description: 'the slow body counted against the budget',
      });
      const r = await declaredPost(fixture.url, 2_500_000);
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('1');
      expect(r.json.error?.code).toBe('overloaded');
      expect(r.json.error?.type).toBe('service_unavailable_error');
      expect(await metric(fixture, 'pdrouter_body_budget_rejections_total')).toBe(rejectedBefore + 1);
      // A small one still fits.
      expect((await post(fixture.url, JSON.stringify({ prompt: 'small' }))).status).toBe(200);
    } finally {
      slow.destroy();
    }
    await waitUntil(
      async () =>
        (proxy.lifecycle.inFlight === 0 && (await metric(fixture, 'pdrouter_buffered_body_bytes')) === 0) || undefined,
      { timeoutMs: 5000, description: 'budget and in-flight back to 0' },
    );
    expect((await post(fixture.url, JSON.stringify({ prompt: 'y'.repeat(2_500_000) }))).status).toBe(200);
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/html'])(
    'refuses a %s body with 415, before reading it',
    async (type) => {
      const before = podBodies;
      const r = await post(fixture.url, JSON.stringify({ prompt: 'x' }), { 'content-type': type });
      expect(r.status).toBe(415);
      expect(r.json.error?.code).toBe('unsupported_media_type');
      expect(podBodies).toBe(before);
    },
  );

  it('accepts application/json with parameters, +json types and a missing content type (as vLLM does)', async () => {
    for (const type of ['application/json; charset=utf-8', 'application/vnd.api+json', ''])
      expect((await post(fixture.url, JSON.stringify({ prompt: 'x' }), { 'content-type': type })).status).toBe(200);
  });
});
