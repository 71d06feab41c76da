// Seeded fuzzing of the client side: thousands of malformed or odd requests (bodies, content types,
// methods, routes) through a real client, and raw-socket protocol abuse (garbage request lines, bad
// framing, conflicting lengths, truncated bodies, pipelining). Whatever comes in: the process stays up,
// a client's error is never a 5xx, every error body is OpenAI-shaped, and afterwards nothing is left in
// flight, no body bytes are held and memory is bounded. FUZZ_SEED reproduces a run.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { waitUntil } from '@pdrouter/testkit';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawConnection } from './raw-http.ts';
import { startTestProxy, type TestProxy } from './test-proxy.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261202);
const BODY_CASES = 3000;
const RAW_CASES = 600;
const CONCURRENCY = 16;
const RAW_DEADLINE_MS = 5000;
/** Memory the whole run may add to the process (the proxy runs in it). */
const RSS_GROWTH_LIMIT_BYTES = 400 * 1024 * 1024;
const KV = { remote_engine_id: 'e', remote_block_ids: [1], remote_host: '127.0.0.1', remote_port: 1 };

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pod(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    const answer = text.includes('"do_remote_decode":true')
      ? JSON.stringify({ choices: [{ text: '' }], kv_transfer_params: KV })
      : JSON.stringify({ choices: [{ text: 'ok' }] });
    if (text.includes('"stream":true')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${answer}\n\ndata: [DONE]\n\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
    res.end(answer);
  });
}

const ROUTES = ['/v1/completions', '/v1/chat/completions', '/v1/responses'];
const FIELD = { '/v1/completions': 'prompt', '/v1/chat/completions': 'messages', '/v1/responses': 'input' } as const;

function oddValue(r: () => number, depth = 0): unknown {
  const k = Math.floor(r() * 12);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return Math.floor(r() * 2 ** 40) * (r() < 0.5 ? -1 : 1);
    case 3:
      return r() * 1e308;
    case 4:
      return 'x'.repeat(Math.floor(r() * 2000));
    case 5:
      return '\u0000\ud800é漢🙂"\\';
    case 6:
      return depth > 3 ? [] : Array.from({ length: Math.floor(r() * 5) }, () => oddValue(r, depth + 1));
    case 7:
      return depth > 3 ? {} : { role: oddValue(r, depth + 1), content: oddValue(r, depth + 1) };
    case 8:
      return ['true', 'false', 'yes', 'maybe', '1', ''][Math.floor(r() * 6)];
    case 9:
      return { __proto__: { polluted: true }, constructor: 'x', toString: 1 };
    case 10:
      return [{ role: 'user', content: 'hello' }];
    default:
      return 'hello';
  }
}

/** A body, a content type, a method and a route: mostly broken, sometimes fine. */
function bodyCase(r: () => number): { method: string; path: string; type: string | undefined; body: Buffer } {
  const path =
    r() < 0.9
      ? (ROUTES[Math.floor(r() * 3)] as string)
      : (['/v1/nope', '/v1/models', '/admin/state', '/%zz', '/v1/completions?x=%'][Math.floor(r() * 5)] as string);
  const method = r() < 0.93 ? 'POST' : (['GET', 'PUT', 'DELETE', 'PATCH'][Math.floor(r() * 4)] as string);
  const type =
    r() < 0.8
      ? 'application/json'
      : [
          undefined,
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/json; charset=latin1',
          'application/ld+json',
          'garbage',
        ][Math.floor(r() * 6)];
  const obj: Record<string, unknown> = { model: 'm' };
  const field = FIELD[path as keyof typeof FIELD] ?? 'prompt';
  if (r() < 0.85) obj[field] = r() < 0.5 ? 'hello' : oddValue(r);
  for (const f of ['stream', 'max_tokens', 'kv_transfer_params', 'stop', 'n', 'seed', 'stream_options', 'min_tokens']) {
    if (r() < 0.2) obj[f] = oddValue(r);
  }
  let text = JSON.stringify(obj);
  const mutation = Math.floor(r() * 10);
  if (mutation === 0) text = text.slice(0, Math.floor(r() * text.length));
  else if (mutation === 1) {
    const i = Math.floor(r() * text.length);
    text = text.slice(0, i) + String.fromCharCode(Math.floor(r() * 128)) + text.slice(i + 1);
  } else if (mutation === 2) text = `${'['.repeat(Math.floor(r() * 200))}${text}`;
  else if (mutation === 3)
    text = ['', 'null', '[]', '"s"', '1', 'true', '{}', '{"prompt":}'][Math.floor(r() * 8)] as string;
  else if (mutation === 4) text = `{"prompt":[${'{},'.repeat(Math.floor(r() * 150_000))}{}]}`;
  let body = Buffer.from(text);
  if (mutation === 5) body = Buffer.concat([body, Buffer.from([0xff, 0xfe, 0xc3])]);
  return { method, path, type, body };
}

/** Raw protocol abuse: bytes written on a fresh connection, which is then half-closed. */
function rawCase(r: () => number, port: number): string {
  const body = '{"prompt":"x"}';
  const host = `host: 127.0.0.1:${port}\r\n`;
  const cases = [
    () => 'GARBAGE\r\n\r\n',
    () => `POST /v1/completions HTTP/9.9\r\n${host}\r\n`,
    () => `POST /v1/completions HTTP/1.1\r\n${host}content-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`,
    () => `POST /v1/completions HTTP/1.1\r\n${host}content-length: 5\r\ncontent-length: 7\r\n\r\n{"a":1}`,
    () => `POST /v1/completions HTTP/1.1\r\n${host}content-length: -1\r\n\r\n`,
    () => `POST /v1/completions HTTP/1.1\r\n${host}transfer-encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`,
    () => `POST /v1/completions HTTP/1.1\r\n${host}content-type: application/json\r\ncontent-length: 100\r\n\r\n{"pro`,
    () => `POST /v1/completions HTTP/1.1\r\n${host}x-big: ${'a'.repeat(20_000 + Math.floor(r() * 80_000))}\r\n\r\n`,
    () => `POST /v1/completions HTTP/1.1\r\n${host}bad header line\r\n\r\n`,
    () =>
      `POST /v1/completions HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    () =>
      `POST /v1/completions HTTP/1.1\r\n${host}content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`.repeat(
        1 + Math.floor(r() * 4),
      ),
    () => `GET /${'a/'.repeat(Math.floor(r() * 5000))} HTTP/1.1\r\n${host}\r\n`,
    () => `POST /v1/completions HTTP/1.1\r\n${host}expect: 100-continue\r\ncontent-length: 10\r\n\r\n`,
    () =>
      Buffer.from(Array.from({ length: 1 + Math.floor(r() * 300) }, () => Math.floor(r() * 256))).toString('latin1'),
  ];
  return (cases[Math.floor(r() * cases.length)] as () => string)();
}

function isOpenAIError(text: string): boolean {
  try {
    const e = (JSON.parse(text) as { error?: Record<string, unknown> }).error;
    return (
      e !== undefined && typeof e.message === 'string' && typeof e.type === 'string' && 'param' in e && 'code' in e
    );
  } catch {
    return false;
  }
}

async function inParallel<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

describe(`fuzzing the client side (FUZZ_SEED=${SEED})`, () => {
  let fixture: TestProxy;
  let port: number;
  let pool: Pool;
  let rssBefore: number;
  beforeAll(async () => {
    fixture = await startTestProxy(pod, {
      flags: [
        '--client-body-timeout-ms',
        '300',
        '--max-payload-size',
        '1000000',
        '--max-buffered-body-bytes',
        '8000000',
      ],
      closePodConnections: true,
    });
    port = Number(new URL(fixture.url).port);
    pool = new Pool(fixture.url, { connections: CONCURRENCY });
    rssBefore = process.memoryUsage().rss;
  });
  afterAll(async () => {
    await pool?.close();
    await fixture?.close();
  });

  it(`${BODY_CASES} odd requests: no 5xx, OpenAI-shaped errors`, { timeout: 60_000 }, async () => {
    const r = rng(SEED);
    const cases = Array.from({ length: BODY_CASES }, (_, i) => ({ i, ...bodyCase(r) }));
    const failures: string[] = [];
    await inParallel(cases, CONCURRENCY, async (c) => {
      const res = await pool.request({
        method: c.method as 'POST',
        path: c.path,
        headers: c.type === undefined ? {} : { 'content-type': c.type },
        body: c.method === 'GET' ? null : c.body,
      });
      const text = await res.body.text();
      const what = `case ${c.i} ${c.method} ${c.path} ${c.type}: ${res.statusCode} ${text.slice(0, 200)}`;
      if (res.statusCode >= 500) failures.push(what);
      else if (res.statusCode >= 400 && !isOpenAIError(text)) failures.push(`not OpenAI-shaped: ${what}`);
    });
    expect(failures).toEqual([]);
  });

  it(`${RAW_CASES} raw-socket protocol cases: a status line first when anything is answered, no 5xx`, {
    timeout: 60_000,
  }, async () => {
    const r = rng(SEED + 1);
    const cases = Array.from({ length: RAW_CASES }, (_, i) => ({ i, bytes: rawCase(r, port) }));
    const failures: string[] = [];
    await inParallel(cases, CONCURRENCY, async (c) => {
      const conn = new RawConnection(port);
      try {
        conn.write(Buffer.from(c.bytes, 'latin1'));
        conn.end();
        await conn.waitClosed(RAW_DEADLINE_MS).catch(() => {
          // Still open (keep-alive after a whole answer): what came so far is judged below.
        });
        const raw = conn.pending.toString('latin1');
        if (raw.length === 0) return;
        if (!raw.startsWith('HTTP/1.1 ')) {
          failures.push(`case ${c.i}: no status line first: ${JSON.stringify(raw.slice(0, 120))}`);
          return;
        }
        for (const m of raw.matchAll(/HTTP\/1\.1 (\d{3})/g)) {
          if (Number(m[1]) >= 500) failures.push(`case ${c.i}: ${m[1]} for ${JSON.stringify(c.bytes.slice(0, 120))}`);
        }
      } finally {
        conn.destroy();
      }
    });
    expect(failures).toEqual([]);
  });

  it('leaves nothing in flight, no body bytes held, and bounded memory', async () => {
    const proxy = fixture.proxy;
    await waitUntil(() => proxy.lifecycle.inFlight === 0, { timeoutMs: 10_000, description: 'in flight back to 0' });
    const text = await (await fetch(fixture.metricsUrl)).text();
    const value = (name: string) =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${name} `))
          ?.split(' ')[1],
      );
    expect(value('pdrouter_in_flight_requests')).toBe(0);
    expect(value('pdrouter_buffered_body_bytes')).toBe(0);
    expect((await fetch(`${fixture.url}/health`)).status).toBe(200);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(RSS_GROWTH_LIMIT_BYTES);
  });
});
