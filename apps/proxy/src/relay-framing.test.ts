// The bytes a client receives for a streamed answer, on raw sockets: an HTTP/1.1 client gets every SSE
// event in well-formed chunks (the relay frames them itself) and can send the next request on the same
// connection; an HTTP/1.0 client, which cannot take chunked encoding, gets the same events unframed, ending
// with the connection.
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { StopWaiting, waitUntil, withDeadline } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from './config.ts';
import { parseFlags } from './flags.ts';
import { createProxy, type ProxyInstance } from './proxy.ts';

/** Deadline for one raw exchange with the proxy. */
const EXCHANGE_TIMEOUT_MS = 15_000;

/** Events of several sizes (one-digit to three-digit hex chunk sizes) and multi-byte UTF-8. */
const EVENTS = [
  'data: {"choices":[{"text":"a"}]}\n\n',
  `data: ${JSON.stringify({ choices: [{ text: 'é漢🙂'.repeat(40) }] })}\n\n`,
  `data: ${JSON.stringify({ choices: [{ text: 'x'.repeat(5000) }] })}\n\n`,
  ':\n\n',
  'data: [DONE]\n\n',
];
const STREAM = EVENTS.join('');

/** The body of a chunked HTTP/1.1 response and where it ended; throws on any malformed framing. */
function dechunk(raw: Buffer, from: number): { body: string; end: number } {
  let at = from;
  const parts: Buffer[] = [];
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) throw new Error(`chunked body cut after ${parts.length} chunks`);
    const sizeText = raw.subarray(at, eol).toString('latin1');
    if (!/^[0-9a-f]+$/.test(sizeText)) throw new Error(`bad chunk size line '${sizeText}'`);
    const size = Number.parseInt(sizeText, 16);
    if (size === 0) {
      if (raw.subarray(eol + 2, eol + 4).toString('latin1') !== '\r\n') throw new Error('no CRLF after last chunk');
      return { body: Buffer.concat(parts).toString('utf8'), end: eol + 4 };
    }
    if (raw.subarray(eol + 2 + size, eol + 4 + size).toString('latin1') !== '\r\n') {
      throw new Error(`chunk ${parts.length} is not followed by CRLF`);
    }
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 4 + size;
  }
}

const requestText = (version: string, port: number): string => {
  const body = JSON.stringify({ prompt: 'x', stream: true });
  return (
    `POST /v1/completions ${version}\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
};

describe('streamed answer framing', () => {
  let pod: Server;
  let proxy: ProxyInstance;
  let port: number;
  beforeAll(async () => {
    pod = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // One event per turn of the event loop, so the proxy relays them as separate chunks.
        let i = 0;
        const next = () => {
          if (i === EVENTS.length) {
            res.end();
            return;
          }
          res.write(EVENTS[i++]);
          setTimeout(next, 2);
        };
        next();
      });
    });
    await new Promise<void>((r) => pod.listen(0, '127.0.0.1', r));
    const podUrl = `http://127.0.0.1:${(pod.address() as AddressInfo).port}`;
    const config = buildConfig(
      parseFlags(['--worker-urls', podUrl, '--host', '127.0.0.1', '--port', '0', '--prometheus-port', '0']),
    );
    proxy = await createProxy(config, { defaultMetrics: false });
    port = Number(new URL((await proxy.listen()).url).port);
  });
  afterAll(async () => {
    await proxy.close();
    pod.closeAllConnections();
    await new Promise<void>((r) => pod.close(() => r()));
  });

  it('HTTP/1.1: well-formed chunks carrying exactly the pod events, twice on one keep-alive connection', async () => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('error', () => {});
    try {
      let from = 0;
      for (let n = 0; n < 2; n++) {
        socket.write(requestText('HTTP/1.1', port));
        let framingError = '';
        const answer = await waitUntil(
          () => {
            if (socket.destroyed) throw new StopWaiting(`connection closed before answer ${n}`);
            const raw = Buffer.concat(received);
            const headEnd = raw.indexOf('\r\n\r\n', from);
            if (headEnd < 0) return undefined;
            try {
              return { head: raw.subarray(from, headEnd).toString('latin1'), ...dechunk(raw, headEnd + 4) };
            } catch (err) {
              // Incomplete so far; malformed framing shows up in the deadline's error with the raw bytes.
              framingError = `${(err as Error).message}: ${raw.toString('latin1')}`;
              return undefined;
            }
          },
          { timeoutMs: EXCHANGE_TIMEOUT_MS, intervalMs: 10, description: `complete answer ${n}` },
        ).catch((err: unknown) => {
          throw framingError ? new Error(`${(err as Error).message}; last framing error: ${framingError}`) : err;
        });
        expect(answer.head).toMatch(/^HTTP\/1\.1 200/);
        expect(answer.head.toLowerCase()).toContain('transfer-encoding: chunked');
        expect(answer.body).toBe(STREAM);
        from = answer.end;
      }
      expect(Buffer.concat(received).length).toBe(from);
    } finally {
      socket.destroy();
    }
  });

  it('HTTP/1.0: the same events unframed, the end of the body marked by the connection closing', async () => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('error', () => {});
    socket.write(requestText('HTTP/1.0', port));
    await withDeadline(
      new Promise((r) => socket.once('close', r)),
      EXCHANGE_TIMEOUT_MS,
      'the HTTP/1.0 connection to close',
    ).finally(() => socket.destroy());
    const raw = Buffer.concat(received);
    const headEnd = raw.indexOf('\r\n\r\n');
    const head = raw.subarray(0, headEnd).toString('latin1');
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head.toLowerCase()).not.toContain('transfer-encoding');
    expect(raw.subarray(headEnd + 4).toString('utf8')).toBe(STREAM);
  });
});
