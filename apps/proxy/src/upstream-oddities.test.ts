// Pods that misbehave, on real sockets: a prefill answer far larger than any real one is not buffered whole
// (the pod is treated as faulty: failover, then 502), a 5xx with a huge body is read only for its log line,
// and a stream that ends without [DONE] is relayed as the pod sent it.
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestProxy, type TestProxy } from '../test/test-proxy.ts';
import type { ProxyInstance } from './proxy.ts';

const KV = { do_remote_prefill: true, remote_engine_id: 'e', remote_block_ids: [1], remote_host: 'h', remote_port: 1 };
const MB = Buffer.alloc(1024 * 1024, 0x20);
/** 256 MB: what a broken pod may send; far above the proxy's prefill answer limit. */
const HUGE_MB = 256;

type Mode = 'huge-prefill' | 'huge-5xx' | 'no-done';
let mode: Mode = 'huge-prefill';
/** Bytes the pod managed to hand to its socket for the current huge answer. */
let podWritten = 0;

function writeHuge(res: ServerResponse, prefix: string): void {
  podWritten = 0;
  res.write(prefix);
  let n = 0;
  const write = () => {
    while (n < HUGE_MB) {
      n++;
      podWritten += MB.length;
      if (!res.write(MB)) {
        res.once('drain', write);
        return;
      }
    }
    res.end('"}');
  };
  res.on('error', () => {});
  write();
}

describe('pods that misbehave', () => {
  let fixture: TestProxy;
  let proxy: ProxyInstance;
  let url: string;
  beforeAll(async () => {
    fixture = await startTestProxy(
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          const prefill = (body.kv_transfer_params as { do_remote_decode?: boolean } | undefined)?.do_remote_decode;
          if (prefill) {
            if (mode === 'huge-prefill') {
              res.writeHead(200, { 'content-type': 'application/json' });
              writeHuge(res, '{"pad":"');
            } else if (mode === 'huge-5xx') {
              res.writeHead(500, { 'content-type': 'application/json' });
              writeHuge(res, '{"error":"');
            } else {
              res.writeHead(200, { 'content-type': 'application/json' });
              res.end(JSON.stringify({ kv_transfer_params: KV }));
            }
            return;
          }
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end('data: {"choices":[{"text":"a"}]}\n\n');
        });
      },
      { flags: ['--retry-max-retries', '0', '--disable-circuit-breaker'], closePodConnections: true },
    );
    ({ proxy, url } = fixture);
  });
  afterAll(() => fixture.close());

  const complete = () =>
    fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x', stream: true }),
      signal: AbortSignal.timeout(15_000),
    });

  it('does not buffer a huge prefill answer: 502 bad_prefill_response, the rest left unread', async () => {
    mode = 'huge-prefill';
    const res = await complete();
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toContain('bad_prefill_response');
    expect(podWritten).toBeLessThan((HUGE_MB * MB.length) / 2);
    expect(proxy.lifecycle.inFlight).toBe(0);
  });

  it("reads only the head of a 5xx answer's body", async () => {
    mode = 'huge-5xx';
    const res = await complete();
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('status_5xx');
    expect(podWritten).toBeLessThan((HUGE_MB * MB.length) / 2);
  });

  it('relays a stream that ends without [DONE] as the pod sent it, and ends it cleanly', async () => {
    mode = 'no-done';
    const res = await complete();
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('data: {"choices":[{"text":"a"}]}\n\n');
    expect(proxy.lifecycle.inFlight).toBe(0);
  });
});
