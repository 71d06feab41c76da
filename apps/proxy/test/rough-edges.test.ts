// The client edge on raw sockets: requests without Host or with a malformed request line get clear
// OpenAI-shaped 400s, a client dribbling its headers is cut at --client-header-timeout-ms, connections
// beyond --max-client-connections are closed, `stream` is read as vLLM reads it, a pod's Keep-Alive hint
// does not outlive --keep-alive-timeout-ms, and streams cut at the drain deadline end with an SSE error.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { waitUntil } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamFlag } from '../src/request-body.ts';
import { RawConnection, rawRequest } from './raw-http.ts';
import { startTestProxy, type TestProxy } from './test-proxy.ts';

const KV = { remote_engine_id: 'e', remote_block_ids: [1], remote_host: '127.0.0.1', remote_port: 1 };
const DEADLINE_MS = 10_000;

/** Prefill legs get kv params; decode legs an SSE stream (endless with x-endless) or JSON. */
function pod(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    if ((body.kv_transfer_params as { do_remote_decode?: boolean } | undefined)?.do_remote_decode) {
      const text = JSON.stringify({ choices: [{ text: '' }], kv_transfer_params: KV });
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'keep-alive': 'timeout=600',
      });
      res.end(text);
      return;
    }
    if (req.headers['x-endless'] !== undefined) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"text":"a"}]}\n\n');
      const timer = setInterval(() => res.write('data: {"choices":[{"text":"b"}]}\n\n'), 20);
      res.on('close', () => clearInterval(timer));
      return;
    }
    const text = JSON.stringify({ choices: [{ text: 'ok' }] });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'keep-alive': 'timeout=600',
    });
    res.end(text);
  });
}

describe('client edge', () => {
  let fixture: TestProxy;
  let port: number;
  const podSockets: Socket[] = [];
  beforeAll(async () => {
    fixture = await startTestProxy(pod, {
      flags: ['--client-header-timeout-ms', '300', '--keep-alive-timeout-ms', '400'],
      closePodConnections: true,
    });
    fixture.pod.on('connection', (s: Socket) => podSockets.push(s));
    port = Number(new URL(fixture.url).port);
  });
  afterAll(() => fixture.close());

  it.each(['HTTP/1.0', 'HTTP/1.1'])('%s without Host: an OpenAI-shaped 400 saying so', async (version) => {
    const conn = new RawConnection(port);
    try {
      conn.write(rawRequest('POST', '/v1/completions', '{"prompt":"x"}', { host: '' }, version));
      const res = await conn.read(DEADLINE_MS);
      expect(res.status).toBe(400);
      const body = JSON.parse(res.body.toString('utf8')) as { error: { message: string; type: string } };
      expect(body.error.type).toBe('invalid_request_error');
      expect(body.error.message).toMatch(/no Host header/);
    } finally {
      conn.destroy();
    }
  });

  it('a malformed request line: an OpenAI-shaped 400 and the connection closed', async () => {
    const conn = new RawConnection(port);
    conn.write('NOT AN HTTP REQUEST\r\n\r\n');
    const res = await conn.read(DEADLINE_MS);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString('utf8')).error.type).toBe('invalid_request_error');
    await conn.waitClosed(DEADLINE_MS);
  });

  it('a client dribbling its headers is cut at --client-header-timeout-ms', async () => {
    const conn = new RawConnection(port);
    const started = Date.now();
    conn.write('POST /v1/completions HTTP/1.1\r\nhost: x\r\n');
    const timer = setInterval(() => conn.write('x-drip: 1\r\n'), 50);
    try {
      await conn.waitClosed(DEADLINE_MS);
    } finally {
      clearInterval(timer);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it("a pod's Keep-Alive: timeout=600 does not keep its connection past --keep-alive-timeout-ms", async () => {
    const res = await fetch(`${fixture.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"prompt":"x"}',
    });
    await res.text();
    const open = podSockets.filter((s) => !s.destroyed);
    expect(open.length).toBeGreaterThan(0);
    // undici's keep-alive timers have about a second of granularity.
    await waitUntil(() => open.every((s) => s.destroyed), { timeoutMs: 5000, description: 'pod sockets closed' });
  });

  it("'stream': 'maybe' is a 400 naming the field; 'true' streams as vLLM would", async () => {
    const res = await fetch(`${fixture.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"prompt":"x","stream":"maybe"}',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('stream');
    for (const v of [true, 'true', 'True', 'yes', 'on', '1', 1, 't', 'y'])
      expect(streamFlag({ stream: v }), String(v)).toBe(true);
    for (const v of [false, 'false', 'no', 'off', '0', 0, 'f', 'n', null, undefined])
      expect(streamFlag({ stream: v }), String(v)).toBe(false);
    for (const v of ['maybe', 2, ' true', [], {}])
      expect(() => streamFlag({ stream: v }), JSON.stringify(v)).toThrow(/'stream' must be a boolean/);
  });
});

describe('--max-client-connections', () => {
  let fixture: TestProxy;
  let port: number;
  beforeAll(async () => {
    fixture = await startTestProxy(pod, { flags: ['--max-client-connections', '3'] });
    port = Number(new URL(fixture.url).port);
  });
  afterAll(() => fixture.close());

  it('connections beyond --max-client-connections are closed at once; the ones in use keep working', async () => {
    const held = [new RawConnection(port), new RawConnection(port), new RawConnection(port)];
    try {
      // Each of the three answers once, so all three are established before the fourth arrives.
      for (const c of held) {
        c.write(rawRequest('POST', '/v1/completions', '{"prompt":"x"}'));
        expect((await c.read(DEADLINE_MS)).status).toBe(200);
      }
      const extra = new RawConnection(port);
      extra.write(rawRequest('POST', '/v1/completions', '{"prompt":"x"}'));
      await extra.waitClosed(DEADLINE_MS);
      expect(extra.pending.length).toBe(0);
      held[0]?.write(rawRequest('POST', '/v1/completions', '{"prompt":"x"}'));
      expect((await held[0]?.read(DEADLINE_MS))?.status).toBe(200);
    } finally {
      for (const c of held) c.destroy();
    }
  });
});

describe('drain deadline', () => {
  it('a stream still running when the drain times out ends with an SSE error event, not a cut', async () => {
    const fixture = await startTestProxy(pod, { closePodConnections: true });
    try {
      const res = await fetch(`${fixture.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-endless': '1' },
        body: '{"prompt":"x","stream":true}',
      });
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toContain('data: ');
      expect(await fixture.proxy.drain(50)).toBe(false);
      const closing = fixture.proxy.close();
      let text = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      await closing;
      const events = text.trim().split('\n\n');
      const last = JSON.parse((events.at(-1) as string).replace(/^data: /, '')) as { error: { message: string } };
      expect(last.error.message).toMatch(/shutting down/);
      expect(text).not.toContain('[DONE]');
    } finally {
      await fixture.close().catch(() => {});
    }
  });
});
