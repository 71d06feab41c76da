// vLLM's other routes through a listening P/D proxy: forwarded as they are to one decode pod (never to a
// prefill pod), the pod's answer streamed back, the client's content type kept, metrics per route, and
// the same guards (ingress key, admission) as the generation routes.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import { listenLocal, metricValue, scrape } from './helpers.ts';

interface Seen {
  role: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
const seen: Seen[] = [];

const e2e = e2eFixture();

/** A pod recording what reaches it, answering with JSON naming itself (and a chunked body for speech). */
async function startPod(role: string): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ role, path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (req.url === '/v1/audio/speech') {
        // A chunked body in two writes: it must reach the client as a stream.
        res.writeHead(200, { 'content-type': 'audio/wav' });
        res.write('RIFF');
        setTimeout(() => res.end('WAVE'), 20);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ served: req.url, by: role }));
    });
  });
  e2e.adopt(`the ${role} pod`, server, (s) => new Promise<void>((r) => s.close(() => r())));
  return listenLocal(server);
}

let url: string;
let metricsUrl: string;

beforeAll(async () => {
  const prefill = await startPod('prefill');
  const decode = await startPod('decode');
  ({ url, metricsUrl } = await e2e.proxy([
    '--pd-disaggregation',
    '--prefill',
    prefill,
    '--decode',
    decode,
    '--ingress-api-key',
    'k',
  ]));
});

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  request(`${url}${path}`, { method: 'POST', headers: { authorization: 'Bearer k', ...headers }, body });

describe('forwarded routes', () => {
  it('sends /v1/embeddings, /v1/rerank, /v1/score, /tokenize, /detokenize to one decode pod, as they are', async () => {
    for (const path of ['/v1/embeddings', '/v1/rerank', '/v1/score', '/tokenize', '/detokenize']) {
      seen.length = 0;
      const body = JSON.stringify({ model: 'm', input: 'hello', query: 'q', documents: ['a'], prompt: 'p' });
      const res = await post(path, body, { 'content-type': 'application/json', 'x-request-id': 'c-1' });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toEqual({ served: path, by: 'decode' });
      expect(res.headers['x-request-id']).toBe('c-1');
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ role: 'decode', path, body });
    }
    const metrics = await scrape(metricsUrl);
    expect(metricValue(metrics, 'vllm_router_requests_total', { route: '/v1/embeddings' })).toBe(1);
    expect(metricValue(metrics, 'vllm_router_requests_total', { route: '/tokenize' })).toBe(1);
  });

  it('keeps a multipart body and its content type; streams what the pod streams', async () => {
    seen.length = 0;
    const boundary = 'b0undary';
    const form = `--${boundary}\r\ncontent-disposition: form-data; name="model"\r\n\r\nm\r\n--${boundary}--\r\n`;
    const res = await post('/v1/audio/transcriptions', form, {
      'content-type': `multipart/form-data; boundary=${boundary}`,
    });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    expect(seen[0]?.headers['content-type']).toBe(`multipart/form-data; boundary=${boundary}`);
    expect(seen[0]?.body).toBe(form);
    const speech = await post('/v1/audio/speech', JSON.stringify({ model: 'm', input: 'hi' }), {
      'content-type': 'application/json',
    });
    expect(speech.headers['content-type']).toBe('audio/wav');
    expect(await speech.body.text()).toBe('RIFFWAVE');
  });

  it('forwards any other POST under the "other" label, and guards every path with the ingress key', async () => {
    seen.length = 0;
    const res = await post('/v1/some/new/route', '{}', { 'content-type': 'application/json' });
    expect(await res.body.json()).toEqual({ served: '/v1/some/new/route', by: 'decode' });
    expect(metricValue(await scrape(metricsUrl), 'vllm_router_requests_total', { route: 'other' })).toBe(1);
    const unauthenticated = await request(`${url}/tokenize`, { method: 'POST', body: '{}' });
    expect(unauthenticated.statusCode).toBe(401);
    expect(await unauthenticated.body.json()).toMatchObject({ error: { type: 'authentication_error' } });
    expect(seen).toHaveLength(1);
  });
});
