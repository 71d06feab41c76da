// A slow client on real sockets: the proxy holds the pod back instead of buffering the stream (backpressure
// end to end), and a drain started meanwhile lasts until the whole stream reached the client, so close()
// after it cuts nothing.
import { connect } from 'node:net';
import { waitUntilSteady, withDeadline } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestProxy, type TestProxy } from '../test/test-proxy.ts';
import type { ProxyInstance } from './proxy.ts';

const KV = { do_remote_prefill: true, remote_engine_id: 'e', remote_block_ids: [1], remote_host: 'h', remote_port: 1 };
/** Large enough to fill the socket buffers between the proxy and a client that reads slowly. */
const EVENT = `data: ${JSON.stringify({ choices: [{ text: 'x'.repeat(64 * 1024) }] })}\n\n`;
const EVENTS = 1024;
/** Bytes of SSE the pod managed to hand to its socket so far. */
let podWritten = 0;

/** The body of a chunked HTTP/1.1 response; throws when the terminating chunk is missing. */
function dechunk(raw: Buffer): string {
  let at = raw.indexOf('\r\n\r\n') + 4;
  const parts: Buffer[] = [];
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) throw new Error(`chunked body cut after ${parts.length} chunks`);
    const size = Number.parseInt(raw.subarray(at, eol).toString('latin1'), 16);
    if (size === 0) return Buffer.concat(parts).toString('utf8');
    if (eol + 2 + size > raw.length) throw new Error(`chunked body cut inside chunk ${parts.length}`);
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

describe('relay and drain with a slow client', () => {
  let fixture: TestProxy;
  let proxy: ProxyInstance;
  let url: string;
  beforeAll(async () => {
    fixture = await startTestProxy((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        if ((body.kv_transfer_params as { do_remote_decode?: boolean } | undefined)?.do_remote_decode) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ kv_transfer_params: KV }));
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let n = 0;
        const write = () => {
          while (n < EVENTS) {
            n++;
            podWritten += EVENT.length;
            if (!res.write(EVENT)) {
              res.once('drain', write);
              return;
            }
          }
          res.end('data: [DONE]\n\n');
        };
        write();
      });
    });
    ({ proxy, url } = fixture);
  });
  afterAll(() => fixture.close());

  it('drain waits for the last byte to reach the socket; close() then cuts nothing', async () => {
    const u = new URL(url);
    const socket = connect(Number(u.port), u.hostname);
    const body = JSON.stringify({ prompt: 'x', stream: true });
    socket.write(
      `POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    const received: Buffer[] = [];
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    // Read a little, then stop reading: the proxy's writes back up into its socket buffers.
    await new Promise<void>((resolve) =>
      socket.once('data', (d: Buffer) => {
        received.push(d);
        resolve();
      }),
    );
    socket.pause();
    const shutdown = proxy.drain(30_000).then(async (drained) => {
      await proxy.close();
      return drained;
    });
    // Wait until the pod's writes have stopped: with the client not reading, that happens once the socket
    // buffers are full (or when the whole stream has gone through).
    await waitUntilSteady(() => podWritten, { steadyMs: 100, description: "the pod's writes to stop" });
    // Backpressure end to end: with the client not reading, the proxy paused the pod's body, so the pod
    // could only fill the socket buffers on both sides, not hand over the whole 64 MB stream.
    expect(podWritten).toBeLessThan((EVENTS * EVENT.length) / 2);
    // Then a slow reader: a chunk every few milliseconds.
    socket.on('data', (d: Buffer) => {
      received.push(d);
      socket.pause();
      setTimeout(() => socket.resume(), 1);
    });
    socket.resume();
    await withDeadline(closed, 20_000, 'the client socket to close');
    expect(await shutdown).toBe(true);
    const raw = Buffer.concat(received);
    expect(raw.toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
    // The chunked body's last chunk and its terminator made it before the connection closed.
    const text = dechunk(raw);
    expect(text.split(EVENT).length - 1).toBe(EVENTS);
    expect(text.endsWith(`${EVENT}data: [DONE]\n\n`)).toBe(true);
  }, 30_000);
});
