import { Agent, fetch, type RequestInit, type Response } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type KubeApiFake, podManifest, startKubeApiFake } from '../src/index.ts';
import { waitUntil } from '../src/wait.ts';

/**
 * The fake's HTTPS surface checked with plain fetch (trusting the fake's CA, as the admin): paths, status
 * codes, headers and bodies.
 */

const NS = 'pd';
let fake: KubeApiFake;
let agent: Agent;

beforeEach(async () => {
  fake = await startKubeApiFake({ namespace: NS, watchMaxSeconds: 1, bookmarkIntervalMs: 60_000 });
  agent = new Agent({ connect: { ca: fake.caCert } });
  fake.createPod(podManifest({ name: 'p0', role: 'prefill', port: 8100 }));
});
afterEach(async () => {
  await agent?.close();
  await fake?.close();
});

const get = (path: string, init: RequestInit = {}, token: string | undefined = fake.token) =>
  fetch(`${fake.url}${path}`, {
    ...init,
    headers: { ...(init.headers as Record<string, string>), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    dispatcher: agent,
    signal: AbortSignal.timeout(10_000),
  });

// biome-ignore lint/suspicious/noExplicitAny: assertions on free-form API JSON
type Json = any;
const json = async (res: Response | Promise<Response>): Promise<Json> => (await res).json();

/** Reads a watch response to its end (the server closes it) and returns the parsed lines. */
async function readWatch(res: Response): Promise<{ type: string; object: Record<string, unknown> }[]> {
  const text = await res.text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

describe('discovery documents', () => {
  it('serves /version, /api, /apis and the resource lists', async () => {
    expect((await json(get('/version'))).gitVersion).toMatch(/^v1\.\d+/);
    expect((await json(get('/api'))).versions).toEqual(['v1']);
    const groups = await json(get('/apis'));
    expect(groups.groups.map((g: { name: string }) => g.name)).toEqual(['coordination.k8s.io']);
    const core = await json(get('/api/v1'));
    expect(core.resources.map((r: { name: string }) => r.name)).toEqual(['pods', 'pods/status']);
    expect(core.resources[0].verbs).toContain('watch');
    const coord = await json(get('/apis/coordination.k8s.io/v1'));
    expect(coord).toMatchObject({ kind: 'APIResourceList', groupVersion: 'coordination.k8s.io/v1' });
    expect(coord.resources.map((r: { name: string }) => r.name)).toEqual(['leases']);
    const missing = await get('/apis/apps/v1');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ kind: 'Status', code: 404, reason: 'NotFound' });
  });
});

describe('errors as Status objects', () => {
  it('404 for a missing pod, 409 for a duplicate, 400 for a bad body; the server keeps serving', async () => {
    const missing = await get(`/api/v1/namespaces/${NS}/pods/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', kind: 'pods' },
      code: 404,
    });
    const post = (body: string) =>
      get(`/api/v1/namespaces/${NS}/pods`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const dup = await post(JSON.stringify(podManifest({ name: 'p0' })));
    expect(dup.status).toBe(409);
    expect(await dup.json()).toMatchObject({ reason: 'AlreadyExists', message: 'pods "p0" already exists' });
    const bad = await post('{"metadata": ');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
    const badName = await post(JSON.stringify({ metadata: { name: 'Not_A_Name' } }));
    expect(badName.status).toBe(422);
    expect((await get(`/api/v1/namespaces/${NS}/pods/p0`)).status).toBe(200);
  });

  it('410 Expired for a list at a compacted exact resourceVersion', async () => {
    const old = fake.resourceVersion;
    fake.createPod(podManifest({ name: 'p1' }));
    fake.compact();
    const res = await get(`/api/v1/namespaces/${NS}/pods?resourceVersion=${old}&resourceVersionMatch=Exact`);
    expect(res.status).toBe(410);
    expect(await res.json()).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
  });
});

describe('watch streaming', () => {
  it('streams chunked newline-delimited JSON, replays the current state without a resourceVersion, ends at the max duration', async () => {
    const res = await get(`/api/v1/namespaces/${NS}/pods?watch=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    const pending = readWatch(res);
    await waitUntil(() => fake.openWatches === 1, { description: 'the watch to open' });
    fake.setPodReady('p0', false);
    const events = await pending; // watchMaxSeconds: 1 ends it
    expect(events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED']);
    expect(fake.openWatches).toBe(0);
  });

  it('honours the deprecated /watch/ path, timeoutSeconds, and sends a final bookmark when allowed', async () => {
    const rv = fake.resourceVersion;
    const started = Date.now();
    const res = await get(
      `/api/v1/watch/namespaces/${NS}/pods?resourceVersion=${rv}&allowWatchBookmarks=true&timeoutSeconds=1`,
    );
    const events = await readWatch(res);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(events).toEqual([
      { type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(rv) } } },
    ]);
  });

  it('replays history from a resourceVersion across namespaces', async () => {
    const rv = fake.resourceVersion;
    fake.createPod(podManifest({ name: 'other', namespace: 'elsewhere' }));
    fake.deletePod('p0');
    const events = await readWatch(await get(`/api/v1/pods?watch=true&resourceVersion=${rv}`));
    expect(events.map((e) => `${e.type} ${(e.object.metadata as { name: string }).name}`)).toEqual([
      'ADDED other',
      'DELETED p0',
    ]);
  });

  it('expireWatches() sends the 410 ERROR event and closes open watches', async () => {
    const res = await get(`/api/v1/namespaces/${NS}/pods?watch=1&resourceVersion=${fake.resourceVersion}`);
    const pending = readWatch(res);
    await waitUntil(() => fake.openWatches === 1, { description: 'the watch to open' });
    fake.expireWatches();
    const events = await pending;
    expect(events).toEqual([
      { type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) },
    ]);
  });

  it('rejects a malformed resourceVersion with 400', async () => {
    const res = await get(`/api/v1/namespaces/${NS}/pods?watch=1&resourceVersion=abc`);
    expect(res.status).toBe(400);
  });
});

describe('status subresource and patches', () => {
  it('changes status only through /status', async () => {
    const patch = (path: string, body: unknown) =>
      get(path, {
        method: 'PATCH',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/merge-patch+json' },
      });
    const before = fake.getPod('p0');
    const main = await patch(`/api/v1/namespaces/${NS}/pods/p0`, {
      status: { phase: 'Failed' },
      metadata: { labels: { x: 'y' } },
    });
    expect(main.status).toBe(200);
    expect(fake.getPod('p0')?.status?.phase).toBe('Running');
    expect(fake.getPod('p0')?.metadata.labels?.x).toBe('y');
    const status = await patch(`/api/v1/namespaces/${NS}/pods/p0/status`, {
      status: { phase: 'Failed' },
      metadata: { labels: { z: 'z' } },
    });
    expect(status.status).toBe(200);
    expect(fake.getPod('p0')?.status?.phase).toBe('Failed');
    expect(fake.getPod('p0')?.metadata.labels?.z).toBeUndefined();
    expect(Number(fake.getPod('p0')?.metadata.resourceVersion)).toBeGreaterThan(
      Number(before?.metadata.resourceVersion),
    );
    const stale = await patch(`/api/v1/namespaces/${NS}/pods/p0`, {
      metadata: { resourceVersion: before?.metadata.resourceVersion, labels: { q: 'q' } },
    });
    expect(stale.status).toBe(409);
  });
});

describe('Table output for kubectl', () => {
  it('renders pods as a meta.k8s.io/v1 Table when asked', async () => {
    fake.markTerminating('p0');
    const res = await get(`/api/v1/namespaces/${NS}/pods`, {
      headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' },
    });
    const table = await json(res);
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.map((c: { name: string }) => c.name).slice(0, 5)).toEqual([
      'Name',
      'Ready',
      'Status',
      'Restarts',
      'Age',
    ]);
    expect(table.rows[0].cells.slice(0, 4)).toEqual(['p0', '1/1', 'Terminating', '0']);
    expect(table.rows[0].object.metadata.name).toBe('p0');
  });
});
