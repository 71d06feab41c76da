// What a listening proxy does at its HTTP edge, with real sockets: CORS (--cors-allowed-origins), the
// client's request id (--request-id-headers) and keys checked by validation URLs (--api-key-validation-urls).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers.ts';
import { minimalPdPod, startTestProxy, type TestProxy } from './test-proxy.ts';

const seen: IncomingHttpHeaders[] = [];

const pod = minimalPdPod(seen);

const completion = (url: string, headers: Record<string, string> = {}) =>
  request(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm', prompt: 'hi', max_tokens: 2, stream: true }),
  });

afterEach(() => {
  seen.length = 0;
});

describe('--cors-allowed-origins', () => {
  let fixture: TestProxy;
  let plain: TestProxy;
  beforeAll(async () => {
    fixture = await startTestProxy(pod, {
      flags: ['--cors-allowed-origins', 'https://app.example', 'https://b.example'],
    });
    plain = await startTestProxy(pod);
  });
  afterAll(async () => {
    await fixture?.close();
    await plain?.close();
  });

  it('answers a preflight from an allowed origin, and not for another one', async () => {
    const pre = (origin: string) =>
      request(`${fixture.url}/v1/chat/completions`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const ok = await pre('https://app.example');
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(ok.headers['access-control-allow-methods']).toContain('POST');
    expect(ok.headers['access-control-allow-headers']).toContain('authorization');
    expect(ok.headers['access-control-max-age']).toBe('3600');
    const other = await pre('https://evil.example');
    expect(other.statusCode).toBe(204);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('marks streamed and plain answers for an allowed origin; nothing without the flag', async () => {
    const res = await completion(fixture.url, { origin: 'https://b.example' });
    expect(res.headers['access-control-allow-origin']).toBe('https://b.example');
    expect(res.headers['access-control-expose-headers']).toBe('x-request-id');
    expect(await res.body.text()).toContain('[DONE]');
    const models = await request(`${fixture.url}/health`, { headers: { origin: 'https://app.example' } });
    expect(models.headers['access-control-allow-origin']).toBe('https://app.example');
    await models.body.text();
    const none = await completion(plain.url, { origin: 'https://b.example' });
    expect(none.headers['access-control-allow-origin']).toBeUndefined();
    await none.body.text();
  });
});

describe('--request-id-headers', () => {
  let fixture: TestProxy;
  let custom: TestProxy;
  beforeAll(async () => {
    fixture = await startTestProxy(pod);
    custom = await startTestProxy(pod, { flags: ['--request-id-headers', 'x-my-id'] });
  });
  afterAll(async () => {
    await fixture?.close();
    await custom?.close();
  });

  it("echoes the client's id; both legs carry it with the same unique suffix", async () => {
    const legIds: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await completion(fixture.url, { 'x-correlation-id': 'client-42' });
      expect(res.headers['x-request-id']).toBe('client-42');
      await res.body.text();
      expect(seen).toHaveLength(2);
      const [prefill, decode] = seen.splice(0).map((h) => h['x-request-id'] as string);
      expect(prefill).toBe(decode);
      expect(prefill?.startsWith('client-42-')).toBe(true);
      legIds.push(prefill as string);
    }
    expect(legIds[0]).not.toBe(legIds[1]);
  });

  it('reads only the configured headers; without one the id is fresh', async () => {
    const res = await completion(custom.url, { 'x-request-id': 'ignored', 'x-my-id': 'mine' });
    expect(res.headers['x-request-id']).toBe('mine');
    await res.body.text();
    const fresh = await completion(custom.url, { 'x-request-id': 'ignored' });
    expect(fresh.headers['x-request-id']).not.toBe('ignored');
    expect(fresh.headers['x-request-id']).toBe(seen.at(-1)?.['x-request-id']);
    await fresh.body.text();
  });
});

describe('--api-key-validation-urls', () => {
  let validator: Server;
  let validatorUrl: string;
  const accepted = new Set(['good']);
  let checks = 0;
  let fixture: TestProxy;
  beforeAll(async () => {
    validator = createServer((req, res) => {
      checks++;
      const key = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      res.writeHead(accepted.has(key) ? 200 : 401).end();
    });
    await new Promise<void>((r) => validator.listen(0, '127.0.0.1', r));
    validatorUrl = `http://127.0.0.1:${(validator.address() as AddressInfo).port}/validate`;
    fixture = await startTestProxy(pod, {
      flags: [
        '--api-key-validation-urls',
        'http://127.0.0.1:1/unreachable',
        validatorUrl,
        '--api-key-validation-cache-secs',
        '0.3',
      ],
    });
  });
  afterAll(async () => {
    await fixture?.close();
    await new Promise<void>((r) => validator.close(() => r()));
  });

  it('lets a validated key through, refuses others with 401, keeps the probes open', async () => {
    const ok = await completion(fixture.url, { authorization: 'Bearer good' });
    expect(ok.statusCode).toBe(200);
    await ok.body.text();
    const bad = await completion(fixture.url, { authorization: 'Bearer bad' });
    expect(bad.statusCode).toBe(401);
    expect(await bad.body.json()).toMatchObject({ error: { type: 'authentication_error' } });
    const missing = await completion(fixture.url);
    expect(missing.statusCode).toBe(401);
    await missing.body.text();
    const health = await request(`${fixture.url}/health`);
    expect(health.statusCode).toBe(200);
    await health.body.text();
  });

  it('reuses an answer while it is fresh and asks again once it expired: a revoked key stops working', async () => {
    const before = checks;
    const again = await completion(fixture.url, { authorization: 'Bearer good' });
    await again.body.text();
    expect(checks).toBe(before); // cached
    accepted.delete('good');
    await waitFor('the revoked key to be refused', async () => {
      const res = await completion(fixture.url, { authorization: 'Bearer good' });
      await res.body.text();
      return res.statusCode === 401 ? true : undefined;
    });
    expect(checks).toBeGreaterThan(before);
  });
});
