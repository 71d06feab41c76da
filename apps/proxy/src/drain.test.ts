// The drain on real sockets (a listening proxy, raw client connections): a connection accepted just before
// the drain still gets an answer, every answer during the drain closes its connection, and close() shuts
// the metrics listener too.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestProxy, type TestProxy } from '../test/test-proxy.ts';
import type { ProxyInstance } from './proxy.ts';

/** Sends `request` on an already open socket; resolves with everything received until the server closes. */
function exchange(socket: Socket, request: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${JSON.stringify(text)}`));
    }, timeoutMs);
    socket.on('data', (d: Buffer) => {
      text += d.toString('utf8');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.write(request);
  });
}

function openSocket(url: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => resolve(s));
    s.once('error', reject);
  });
}

describe('drain on real sockets', () => {
  let fixture: TestProxy;
  let proxy: ProxyInstance;
  let url: string;
  let metricsUrl: string;
  beforeAll(async () => {
    // A pod that is never reached by these tests (readiness and refused requests only).
    fixture = await startTestProxy((_req, res) => res.end());
    ({ proxy, url, metricsUrl } = fixture);
  });
  afterAll(() => fixture.close());

  it('answers a request on a connection accepted before the drain (no reset), and closes it after', async () => {
    // Connections opened before the signal: one idle keep-alive connection that already served a request,
    // and one whose first request is still in transit when the drain starts.
    const used = await openSocket(url);
    const first = await new Promise<string>((resolve) => {
      used.once('data', (d: Buffer) => resolve(d.toString('utf8')));
      used.write('GET /readiness HTTP/1.1\r\nhost: x\r\n\r\n');
    });
    expect(first).toMatch(/^HTTP\/1\.1 200/);
    const idle = await openSocket(url);
    // The server accepts connections in arrival order: once a later one has been answered, `idle` has been
    // accepted too, so the drain below begins with it open on the server's side.
    const witness = await openSocket(url);
    expect(await exchange(witness, 'GET /readiness HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 200/,
    );

    const drained = proxy.drain(1000);
    const [a, b] = await Promise.all([
      exchange(used, 'GET /readiness HTTP/1.1\r\nhost: x\r\n\r\n'),
      exchange(
        idle,
        'POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{"prompt":"hi"}',
      ),
    ]);
    expect(a).toMatch(/^HTTP\/1\.1 503/);
    expect(a.toLowerCase()).toContain('connection: close');
    expect(a).toContain('"status":"not ready"');
    expect(b).toMatch(/^HTTP\/1\.1 503/);
    expect(b.toLowerCase()).toContain('connection: close');
    expect(b).toContain('"code":"draining"');
    expect(await drained).toBe(true);
  });

  it('close() shuts the metrics listener as well', async () => {
    expect((await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
    await proxy.close();
    await expect(fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
    await expect(fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
  });
});
