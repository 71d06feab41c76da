// Clients that misbehave while sending their body, on real sockets: one that stalls after its headers gets
// 408 within --client-body-timeout-ms, one that leaves mid-body and one that streams a chunked body past
// the limit are let go; none of them keeps an in-flight slot.
import { connect } from 'node:net';
import { waitUntil } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestProxy, type TestProxy } from '../test/test-proxy.ts';
import type { ProxyInstance } from './proxy.ts';

/** Writes `parts` in order on a new connection; resolves with what came back once the server closes. */
function rawExchange(url: string, parts: (string | Buffer)[], timeoutMs = 10_000): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname);
    let text = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`connection not closed within ${timeoutMs} ms; got ${JSON.stringify(text.slice(0, 300))}`));
    }, timeoutMs);
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    for (const p of parts) s.write(p);
  });
}

function waitIdle(proxy: ProxyInstance): Promise<boolean> {
  return waitUntil(() => proxy.lifecycle.inFlight === 0, {
    timeoutMs: 5000,
    intervalMs: 20,
    description: 'no request in flight',
  });
}

describe('client body reading on real sockets', () => {
  let fixture: TestProxy;
  let proxy: ProxyInstance;
  let url: string;
  beforeAll(async () => {
    fixture = await startTestProxy((_req, res) => res.end(), {
      flags: ['--client-body-timeout-ms', '300', '--max-payload-size', '100000'],
    });
    ({ proxy, url } = fixture);
  });
  afterAll(() => fixture.close());

  it('answers 408 and closes the connection when the body stalls after the headers', async () => {
    const started = Date.now();
    const text = await rawExchange(url, [
      'POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"prom',
    ]);
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(text).toContain('--client-body-timeout-ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    await waitIdle(proxy);
  });

  it('lets go of a client that closes before its body ended', async () => {
    const u = new URL(url);
    await new Promise<void>((resolve) => {
      const s = connect(Number(u.port), u.hostname, () => {
        s.write('POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"prompt":');
        setTimeout(() => s.destroy(), 50);
      });
      s.on('close', () => resolve());
      s.on('error', () => {});
    });
    await waitIdle(proxy);
    expect((await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
  });

  it('answers 413 to a chunked body (no Content-Length) that grows past --max-payload-size', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const framed = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    const text = await rawExchange(url, [
      'POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n',
      framed,
      framed,
      framed,
    ]);
    expect(text).toMatch(/^HTTP\/1\.1 413/);
    expect(text).toContain('payload_too_large');
    await waitIdle(proxy);
  });
});
