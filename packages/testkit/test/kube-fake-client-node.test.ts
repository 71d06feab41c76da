import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  makeInformer,
  type V1Lease,
  V1MicroTime,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type KubeApiFake, podManifest, startKubeApiFake } from '../src/index.ts';
import { waitUntil } from '../src/wait.ts';

const NS = 'pd';

function clients(fake: KubeApiFake) {
  const kc = new KubeConfig();
  kc.loadFromFile(fake.kubeconfigPath);
  return { kc, core: kc.makeApiClient(CoreV1Api), coordination: kc.makeApiClient(CoordinationV1Api) };
}

async function apiErrorCode(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
  throw new Error('expected the call to fail');
}

interface SeenEvent {
  type: string;
  name: string | undefined;
  rv: string | undefined;
  code?: number;
  reason?: string;
}

/** Runs a raw client-node Watch and collects its events until done() is called. */
function collectWatch(kc: KubeConfig, path: string, query: Record<string, string | number | boolean | undefined>) {
  const events: SeenEvent[] = [];
  let finished: { err: unknown } | undefined;
  const controller = new Watch(kc).watch(
    path,
    query,
    (type, obj: { metadata?: { name?: string; resourceVersion?: string }; code?: number; reason?: string }) => {
      events.push({
        type,
        name: obj.metadata?.name,
        rv: obj.metadata?.resourceVersion,
        code: obj.code,
        reason: obj.reason,
      });
    },
    (err) => {
      finished = { err };
    },
  );
  return { events, done: () => finished, controller };
}

describe('Kubernetes API fake through @kubernetes/client-node', () => {
  let fake: KubeApiFake;
  beforeEach(async () => {
    fake = await startKubeApiFake({ namespace: NS, bookmarkIntervalMs: 100 });
  });
  afterEach(async () => {
    await fake?.close();
  });

  it('lists pods by namespace and across namespaces with label selectors', async () => {
    fake.createPod(podManifest({ name: 'prefill-0', role: 'prefill', port: 8100 }));
    fake.createPod(podManifest({ name: 'prefill-1', role: 'prefill', port: 8101, ready: false }));
    fake.createPod(podManifest({ name: 'decode-0', role: 'decode', port: 8200 }));
    fake.createPod(podManifest({ name: 'other', namespace: 'elsewhere', role: 'prefill', port: 9000 }));
    const { core } = clients(fake);

    const prefill = await core.listNamespacedPod({ namespace: NS, labelSelector: 'llm-d.ai/role=prefill' });
    expect(prefill.items.map((p) => p.metadata?.name)).toEqual(['prefill-0', 'prefill-1']);
    expect(Number(prefill.metadata?.resourceVersion)).toBe(fake.resourceVersion);
    expect(prefill.items[0]?.metadata?.annotations?.['vllm.ai/port']).toBe('8100');
    expect(prefill.items[0]?.status?.podIP).toBe('127.0.0.1');
    expect(prefill.items[1]?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');

    const notPrefill = await core.listNamespacedPod({ namespace: NS, labelSelector: 'llm-d.ai/role!=prefill' });
    expect(notPrefill.items.map((p) => p.metadata?.name)).toEqual(['decode-0']);
    const either = await core.listNamespacedPod({ namespace: NS, labelSelector: 'llm-d.ai/role in (decode, prefill)' });
    expect(either.items).toHaveLength(3);

    const everywhere = await core.listPodForAllNamespaces({ labelSelector: 'llm-d.ai/role=prefill' });
    expect(everywhere.items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`)).toEqual([
      'elsewhere/other',
      'pd/prefill-0',
      'pd/prefill-1',
    ]);
    const byField = await core.listNamespacedPod({ namespace: NS, fieldSelector: 'metadata.name=decode-0' });
    expect(byField.items.map((p) => p.metadata?.name)).toEqual(['decode-0']);

    expect(await apiErrorCode(core.listNamespacedPod({ namespace: NS, labelSelector: 'a in (b' }))).toBe(400);
  });

  it('creates, reads, patches and deletes pods with the API status codes', async () => {
    const { core } = clients(fake);
    const created = await core.createNamespacedPod({
      namespace: NS,
      body: podManifest({ name: 'decode-1', role: 'decode', port: 8201 }) as V1Pod,
    });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    const rv1 = Number(created.metadata?.resourceVersion);

    expect(
      await apiErrorCode(core.createNamespacedPod({ namespace: NS, body: podManifest({ name: 'decode-1' }) as V1Pod })),
    ).toBe(409);
    expect(await apiErrorCode(core.readNamespacedPod({ namespace: NS, name: 'missing' }))).toBe(404);

    // client-node sends JSON patch (RFC 6902) by default.
    const patched = await core.patchNamespacedPod({
      namespace: NS,
      name: 'decode-1',
      body: [{ op: 'add', path: '/metadata/labels/extra', value: 'yes' }],
    });
    expect(patched.metadata?.labels?.extra).toBe('yes');
    expect(Number(patched.metadata?.resourceVersion)).toBeGreaterThan(rv1);

    // The status subresource changes only the status; the main resource keeps it.
    const current = await core.readNamespacedPod({ namespace: NS, name: 'decode-1' });
    const flipped = structuredClone(current);
    for (const c of flipped.status?.conditions ?? []) if (c.type === 'Ready') c.status = 'False';
    await core.replaceNamespacedPodStatus({ namespace: NS, name: 'decode-1', body: flipped });
    expect(fake.getPod('decode-1')?.status?.conditions).toContainEqual(
      expect.objectContaining({ type: 'Ready', status: 'False' }),
    );

    const stale = structuredClone(current);
    stale.metadata = { ...stale.metadata, labels: { changed: 'x' } };
    expect(await apiErrorCode(core.replaceNamespacedPod({ namespace: NS, name: 'decode-1', body: stale }))).toBe(409);

    // Graceful: the pod stays, Terminating for its grace period; a DELETE with grace 0 removes it at once.
    const terminating = await core.deleteNamespacedPod({ namespace: NS, name: 'decode-1' });
    expect(terminating.metadata?.deletionTimestamp).toBeDefined();
    expect(fake.getPod('decode-1')?.metadata.deletionGracePeriodSeconds).toBe(30);
    await core.deleteNamespacedPod({ namespace: NS, name: 'decode-1', gracePeriodSeconds: 0 });
    expect(fake.getPod('decode-1')).toBeUndefined();
    expect(await apiErrorCode(core.deleteNamespacedPod({ namespace: NS, name: 'decode-1' }))).toBe(404);
  });

  it('streams watch events in resourceVersion order, with bookmarks and a server-side end', async () => {
    const { kc, core } = clients(fake);
    fake.createPod(podManifest({ name: 'p0', role: 'prefill', port: 8100 }));
    const list = await core.listNamespacedPod({ namespace: NS });
    const w = collectWatch(kc, `/api/v1/namespaces/${NS}/pods`, {
      resourceVersion: list.metadata?.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: 2,
    });
    await waitUntil(() => fake.openWatches === 1, { description: 'the watch to open' });
    fake.createPod(podManifest({ name: 'p1', role: 'prefill', port: 8101 }));
    fake.setPodReady('p1', false);
    fake.markTerminating('p0');
    fake.deletePod('p0');
    await waitUntil(() => w.events.filter((e) => e.type !== 'BOOKMARK').length >= 4, { description: 'four events' });
    const changes = w.events.filter((e) => e.type !== 'BOOKMARK');
    expect(changes.map((e) => `${e.type} ${e.name}`)).toEqual(['ADDED p1', 'MODIFIED p1', 'MODIFIED p0', 'DELETED p0']);
    const rvs = changes.map((e) => Number(e.rv));
    expect(rvs).toEqual([...rvs].sort((a, b) => a - b));
    expect(new Set(rvs).size).toBe(4);
    await waitUntil(() => w.events.some((e) => e.type === 'BOOKMARK'), { description: 'a bookmark' });
    // timeoutSeconds=2: the server ends the watch cleanly.
    await waitUntil(() => w.done(), { timeoutMs: 8_000, description: 'the server to end the watch' });
    expect(w.done()?.err).toBeNull();
    expect(fake.openWatches).toBe(0);
  });

  it('answers a watch from a compacted resourceVersion with a 410 Expired ERROR event', async () => {
    const { kc } = clients(fake);
    fake.createPod(podManifest({ name: 'p0' }));
    const old = fake.resourceVersion;
    fake.createPod(podManifest({ name: 'p1' }));
    fake.compact();
    const w = collectWatch(kc, `/api/v1/namespaces/${NS}/pods`, { resourceVersion: String(old) });
    await waitUntil(() => w.done(), { description: 'the expired watch to end' });
    expect(w.events).toEqual([expect.objectContaining({ type: 'ERROR', code: 410, reason: 'Expired' })]);
  });

  it('sends ADDED/DELETED when a label change moves a pod into or out of the selector', async () => {
    const { kc } = clients(fake);
    fake.createPod(podManifest({ name: 'p0', role: 'prefill' }));
    const w = collectWatch(kc, `/api/v1/namespaces/${NS}/pods`, {
      resourceVersion: String(fake.resourceVersion),
      labelSelector: 'llm-d.ai/role=decode',
    });
    await waitUntil(() => fake.openWatches === 1, { description: 'the watch to open' });
    fake.patchPod('p0', { metadata: { labels: { 'llm-d.ai/role': 'decode' } } });
    fake.patchPod('p0', { metadata: { labels: { 'llm-d.ai/role': 'prefill' } } });
    await waitUntil(() => w.events.length >= 2, { description: 'two events' });
    expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'DELETED']);
    w.controller.then((c) => c.abort());
  });

  it('feeds an informer: add, update, delete, and a relist after 410 without spurious deletes', async () => {
    const { kc, core } = clients(fake);
    fake.createPod(podManifest({ name: 'p0', role: 'decode', port: 8200 }));
    const informer = makeInformer<V1Pod>(
      kc,
      `/api/v1/namespaces/${NS}/pods`,
      () => core.listNamespacedPod({ namespace: NS, labelSelector: 'llm-d.ai/role=decode' }),
      'llm-d.ai/role=decode',
    );
    const log: string[] = [];
    informer.on('add', (p) => log.push(`add ${p.metadata?.name}`));
    informer.on('update', (p) => log.push(`update ${p.metadata?.name}`));
    informer.on('delete', (p) => log.push(`delete ${p.metadata?.name}`));
    const errors: unknown[] = [];
    informer.on('error', (e) => errors.push(e));
    await informer.start();
    try {
      await waitUntil(() => log.includes('add p0') && fake.openWatches === 1, { description: 'initial list + watch' });
      fake.createPod(podManifest({ name: 'p1', role: 'decode', port: 8201 }));
      fake.setPodReady('p1', false);
      fake.deletePod('p0');
      await waitUntil(() => log.includes('delete p0'), { description: 'the delete event' });
      expect(log).toEqual(['add p0', 'add p1', 'update p1', 'delete p0']);

      const listsBefore = fake.requests().filter((r) => r.path.endsWith('/pods') && !r.query.includes('watch')).length;
      fake.expireWatches();
      // A change nobody watched: the relist must surface it, and must not drop p1.
      fake.createPod(podManifest({ name: 'p2', role: 'decode', port: 8202 }));
      await waitUntil(() => log.includes('add p2') && fake.openWatches === 1, {
        timeoutMs: 10_000,
        description: 'relist after 410',
      });
      const listsAfter = fake.requests().filter((r) => r.path.endsWith('/pods') && !r.query.includes('watch')).length;
      expect(listsAfter).toBe(listsBefore + 1);
      expect(log.filter((l) => l.startsWith('delete'))).toEqual(['delete p0']);
      expect(
        informer
          .list(NS)
          .map((p) => p.metadata?.name)
          .sort(),
      ).toEqual(['p1', 'p2']);
      expect(errors).toEqual([]);
    } finally {
      await informer.stop();
    }
  });

  it('serves Leases with optimistic concurrency', async () => {
    const { coordination } = clients(fake);
    const body: V1Lease = {
      metadata: { name: 'pdrouter-discovery', namespace: NS },
      spec: { holderIdentity: 'replica-a', leaseDurationSeconds: 15, renewTime: new V1MicroTime() },
    };
    const created = await coordination.createNamespacedLease({ namespace: NS, body });
    expect(created.spec?.holderIdentity).toBe('replica-a');
    expect(await apiErrorCode(coordination.createNamespacedLease({ namespace: NS, body }))).toBe(409);

    const read = await coordination.readNamespacedLease({ namespace: NS, name: 'pdrouter-discovery' });
    const renewed = await coordination.replaceNamespacedLease({
      namespace: NS,
      name: 'pdrouter-discovery',
      body: { ...read, spec: { ...read.spec, renewTime: new V1MicroTime(Date.now() + 1000) } },
    });
    expect(Number(renewed.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion));

    // Another replica still holding the old version loses.
    const takeover = { ...read, spec: { ...read.spec, holderIdentity: 'replica-b' } };
    expect(
      await apiErrorCode(
        coordination.replaceNamespacedLease({ namespace: NS, name: 'pdrouter-discovery', body: takeover }),
      ),
    ).toBe(409);
    expect(fake.getLease('pdrouter-discovery')?.spec?.holderIdentity).toBe('replica-a');

    const list = await coordination.listNamespacedLease({ namespace: NS });
    expect(list.items.map((l) => l.metadata?.name)).toEqual(['pdrouter-discovery']);
    expect(fake.leases()).toHaveLength(1);
    await coordination.deleteNamespacedLease({ namespace: NS, name: 'pdrouter-discovery' });
    expect(fake.leases()).toHaveLength(0);
  });

  it('goes unreachable and comes back on the same port with the same objects', async () => {
    const { core } = clients(fake);
    fake.createPod(podManifest({ name: 'p0' }));
    const port = fake.port;
    await fake.setUnreachable(true);
    await expect(core.listNamespacedPod({ namespace: NS })).rejects.toThrow();
    await fake.setUnreachable(false);
    expect(fake.port).toBe(port);
    const list = await core.listNamespacedPod({ namespace: NS });
    expect(list.items.map((p) => p.metadata?.name)).toEqual(['p0']);
  });

  it('refuses a wrong bearer token with 401', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: fake.url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'wrong' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    expect(await apiErrorCode(kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NS }))).toBe(401);
  });
});
