// The Authorization the pods see, on each kind of request the router sends them: a generation leg, the
// /v1/models listing and the health probe of an ejected pod. One rule (headers.ts upstreamAuth) decides all
// three; a pod that answers 500 to generations gets ejected so its probe can be seen too.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitUntil } from '@pdrouter/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildConfig } from './config.ts';
import { parseFlags } from './flags.ts';
import { upstreamAuth, upstreamAuthorization } from './headers.ts';
import { createProxy } from './proxy.ts';

interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
}

const seen: Seen[] = [];
let pod: Server;
let podUrl: string;

beforeAll(async () => {
  pod = createServer((req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    req.on('end', () => {
      if (req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model' }] }));
      } else if (req.url === '/health') {
        res.writeHead(200);
        res.end();
      } else {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'broken' } }));
      }
    });
  });
  await new Promise<void>((resolve) => pod.listen(0, '127.0.0.1', resolve));
  podUrl = `http://127.0.0.1:${(pod.address() as AddressInfo).port}`;
});

afterAll(async () => {
  pod.closeAllConnections();
  await new Promise((resolve) => pod.close(resolve));
});

beforeEach(() => {
  seen.length = 0;
});

/** What each kind of request carried: one generation, the health probe (at start) and /v1/models. */
async function authorizationsSeen(flags: string[], clientAuthorization: string) {
  const proxy = await createProxy(
    buildConfig(parseFlags(['--worker-urls', podUrl, '--retry-max-retries', '0', ...flags])),
    { defaultMetrics: false },
  );
  await proxy.start();
  try {
    const headers = { 'content-type': 'application/json', authorization: clientAuthorization };
    await (
      await proxy.app.request('/v1/completions', { method: 'POST', headers, body: JSON.stringify({ prompt: 'x' }) })
    ).text();
    await waitUntil(() => seen.some((s) => s.path === '/health'), {
      description: 'the start-up health probe',
    });
    await (await proxy.app.request('/v1/models', { headers })).text();
    const of = (path: string) => seen.filter((s) => s.path === path).map((s) => s.authorization);
    return { leg: of('/v1/completions'), models: of('/v1/models'), probe: of('/health').slice(0, 1) };
  } finally {
    await proxy.close();
  }
}

describe('upstream authorization', () => {
  it('sends --api-key on the legs, /v1/models and the probes, never the client key', async () => {
    expect(await authorizationsSeen(['--api-key', 'sk-backend'], 'Bearer client-key')).toEqual({
      leg: ['Bearer sk-backend'],
      models: ['Bearer sk-backend'],
      probe: ['Bearer sk-backend'],
    });
  });

  it("passes the client's Authorization on without keys of our own; a probe carries none", async () => {
    expect(await authorizationsSeen([], 'Bearer client-key')).toEqual({
      leg: ['Bearer client-key'],
      models: ['Bearer client-key'],
      probe: [undefined],
    });
  });

  it('never hands an ingress key to a pod', async () => {
    expect(await authorizationsSeen(['--ingress-api-key', 'ingress-secret'], 'Bearer ingress-secret')).toEqual({
      leg: [undefined],
      models: [undefined],
      probe: [undefined],
    });
  });

  it('an empty client Authorization is not passed on', () => {
    expect(upstreamAuthorization(upstreamAuth({ ingressApiKeys: [] }), '')).toBeUndefined();
  });
});
