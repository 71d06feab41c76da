// Every shape a pod's answer can take reaches a raw-socket client as a well-formed HTTP/1.1 response: the
// status line first, then the pod's bytes in correct framing, and the keep-alive connection still usable
// for the next request. Shapes: SSE, chunked JSON (no Content-Length), Content-Length JSON, empty bodies
// (Content-Length 0, chunked with no chunks, 204), a chunked 4xx, each on both the plain and the P/D path.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../src/config.ts';
import { parseFlags } from '../src/flags.ts';
import { createProxy, type ProxyInstance } from '../src/proxy.ts';
import { RawConnection, rawRequest } from './raw-http.ts';

const EXCHANGE_TIMEOUT_MS = 10_000;
const KV = { remote_engine_id: 'e', remote_block_ids: [1], remote_host: '127.0.0.1', remote_port: 1 };
const JSON_ANSWER = JSON.stringify({ id: 'cmpl-1', choices: [{ text: 'hello é漢' }] });
const EVENTS = [
  'data: {"choices":[{"text":"a"}]}\n\n',
  `data: ${JSON.stringify({ t: 'x'.repeat(3000) })}\n\n`,
  'data: [DONE]\n\n',
];

interface Shape {
  status: number;
  body: string;
  write(res: ServerResponse): void;
}

/** Writes parts one event-loop turn apart, so the proxy relays them as separate reads. */
function writeSpaced(res: ServerResponse, parts: string[]): void {
  let i = 0;
  const next = () => {
    if (i === parts.length) res.end();
    else {
      res.write(parts[i++]);
      setTimeout(next, 2);
    }
  };
  next();
}

const SHAPES: Record<string, Shape> = {
  sse: {
    status: 200,
    body: EVENTS.join(''),
    write: (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      writeSpaced(res, EVENTS);
    },
  },
  'chunked-json': {
    status: 200,
    body: JSON_ANSWER,
    write: (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      writeSpaced(res, [JSON_ANSWER.slice(0, 10), JSON_ANSWER.slice(10)]);
    },
  },
  'length-json': {
    status: 200,
    body: JSON_ANSWER,
    write: (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(JSON_ANSWER) });
      res.end(JSON_ANSWER);
    },
  },
  'empty-length': {
    status: 200,
    body: '',
    write: (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 0 });
      res.end();
    },
  },
  'empty-chunked': {
    status: 200,
    body: '',
    write: (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.end();
    },
  },
  'no-content': {
    status: 204,
    body: '',
    write: (res) => {
      res.writeHead(204);
      res.end();
    },
  },
  'chunked-400': {
    status: 400,
    body: '{"error":{"message":"bad","type":"BadRequestError","param":null,"code":400}}',
    write: (res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      writeSpaced(res, ['{"error":{"message":"bad",', '"type":"BadRequestError","param":null,"code":400}}']);
    },
  },
};

function podHandler(req: IncomingMessage, res: ServerResponse): void {
  // The router's health probes, answered as vLLM does.
  if (req.method === 'GET' && req.url === '/health') return void res.end();
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    if ((body.kv_transfer_params as { do_remote_decode?: boolean } | undefined)?.do_remote_decode) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ text: '' }], kv_transfer_params: KV }));
      return;
    }
    const shape = SHAPES[String(req.headers['x-shape'])] as Shape;
    shape.write(res);
  });
}

let pod: Server;
const proxies: Record<'plain' | 'pd', { proxy: ProxyInstance; port: number }> = {} as never;

beforeAll(async () => {
  pod = createServer(podHandler);
  await new Promise<void>((r) => pod.listen(0, '127.0.0.1', r));
  const podUrl = `http://127.0.0.1:${(pod.address() as AddressInfo).port}`;
  const common = ['--host', '127.0.0.1', '--port', '0', '--prometheus-port', '0'];
  for (const [mode, flags] of [
    ['plain', ['--worker-urls', podUrl]],
    ['pd', ['--pd-disaggregation', '--prefill', podUrl, '--decode', podUrl]],
  ] as const) {
    const proxy = await createProxy(buildConfig(parseFlags([...flags, ...common])), { defaultMetrics: false });
    proxies[mode] = { proxy, port: Number(new URL((await proxy.listen()).url).port) };
  }
});

afterAll(async () => {
  for (const p of Object.values(proxies)) await p.proxy.close();
  pod.closeAllConnections();
  await new Promise<void>((r) => pod.close(() => r()));
});

describe.each(['plain', 'pd'] as const)('upstream shapes through the %s path', (mode) => {
  it.each(Object.keys(SHAPES))('%s: status line first, exact body, keep-alive intact', async (name) => {
    const shape = SHAPES[name] as Shape;
    const conn = new RawConnection(proxies[mode].port);
    try {
      for (let n = 0; n < 2; n++) {
        const stream = name === 'sse';
        conn.write(rawRequest('POST', '/v1/completions', JSON.stringify({ prompt: 'x', stream }), { 'x-shape': name }));
        const res = await conn.read(EXCHANGE_TIMEOUT_MS);
        expect(res.status).toBe(shape.status);
        expect(res.body.toString('utf8')).toBe(shape.body);
        expect(res.framing).not.toBe('close');
        expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      }
      expect(conn.pending.length).toBe(0);
      expect(conn.isClosed).toBe(false);
    } finally {
      conn.destroy();
    }
  });
});
