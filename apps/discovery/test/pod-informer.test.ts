import type { KubeConfig } from '@kubernetes/client-node';
import { type KubeApiFake, podManifest, serviceAccountUser, startKubeApiFake, waitUntil } from '@pdrouter/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { discoveryKubeconfig, discoveryRbac } from '../scripts/deploy-rbac.ts';
import { loadKubeConfig, membersOf, PodInformer, statusCodeOf } from '../src/index.ts';

const membership = {
  targetPort: 8000,
  portAnnotation: 'vllm.ai/port',
  bootstrapPortAnnotation: 'vllm.ai/bootstrap-port',
};
let fake: KubeApiFake;
let kc: KubeConfig;
const informers: PodInformer[] = [];
let podCounter = 0;

beforeAll(async () => {
  fake = await startKubeApiFake({ bookmarkIntervalMs: 200, rbac: discoveryRbac() });
  kc = loadKubeConfig(discoveryKubeconfig(fake));
});
afterEach(async () => {
  for (const i of informers.splice(0)) await i.stop();
  for (const pod of fake.listPods()) fake.deletePod(pod.metadata.name as string, pod.metadata.namespace);
});
afterAll(async () => {
  await fake?.close();
});

/** Pods of one test get their own role label, so tests never see each other's pods. */
function uniqueRole(): string {
  podCounter++;
  return `role-${podCounter}`;
}

function addPod(group: string, name: string, port: number, ready = true): void {
  fake.createPod(podManifest({ name, port, ready, labels: { group } }));
}

interface Watched {
  informer: PodInformer;
  names: () => string[];
  /** Every membership computed after a change, in order. */
  history: string[][];
  restarts: string[];
  delays: number[];
}

function watch(
  group: string,
  options: {
    backoffMinMs?: number;
    backoffMaxMs?: number;
    random?: () => number;
    listPageSize?: number;
    watchTimeoutSecs?: number;
    api?: { kc: KubeConfig; namespace: string };
  } = {},
): Watched {
  const history: string[][] = [];
  const restarts: string[] = [];
  const delays: number[] = [];
  const names = () => membersOf(informer.pods(), membership).map((m) => m.name);
  const informer: PodInformer = new PodInformer({
    kubeConfig: options.api?.kc ?? kc,
    namespace: options.api?.namespace ?? fake.namespace,
    labelSelector: `group=${group}`,
    watchTimeoutSecs: options.watchTimeoutSecs ?? 20,
    listPageSize: options.listPageSize ?? 500,
    onChange: () => history.push(names()),
    backoff: {
      initialMs: options.backoffMinMs ?? 50,
      maxMs: options.backoffMaxMs ?? 200,
      multiplier: 2,
      jitterFactor: 0.2,
      ...(options.random === undefined ? {} : { random: options.random }),
    },
    onWatchRestart: (reason) => restarts.push(reason),
    onError: (_err, delay) => delays.push(delay),
  });
  informers.push(informer);
  informer.start();
  return { informer, names, history, restarts, delays };
}

function listRequests(): number {
  return fake
    .requests()
    .filter((r) => r.method === 'GET' && r.path.endsWith('/pods') && !/watch=(true|1)/.test(r.query)).length;
}

describe('PodInformer against the Kubernetes API fake', () => {
  it('lists, then follows adds, readiness flips, termination and deletes through the watch', async () => {
    const g = uniqueRole();
    addPod(g, 'p-a', 9001);
    addPod(g, 'p-b', 9002);
    addPod('other', 'x-other', 9003);
    const w = watch(g);
    await waitUntil(() => w.informer.synced && w.names().length === 2, { description: 'the initial list' });
    expect(w.names()).toEqual(['p-a', 'p-b']);

    addPod(g, 'p-c', 9004);
    await waitUntil(() => w.names().includes('p-c'), { description: 'the added pod' });
    fake.setPodReady('p-a', false);
    await waitUntil(() => !w.names().includes('p-a'), { description: 'the un-ready pod to leave' });
    fake.markTerminating('p-b');
    await waitUntil(() => !w.names().includes('p-b'), { description: 'the terminating pod to leave' });
    fake.setPodReady('p-a', true);
    fake.deletePod('p-c');
    await waitUntil(() => w.names().join() === 'p-a', { description: 'p-a back, p-c gone' });
    expect(w.names()).toEqual(['p-a']);
  });

  it('410 Gone: relists and replaces the store in one step, never dropping pods that still exist', async () => {
    const g = uniqueRole();
    for (let i = 0; i < 4; i++) addPod(g, `q-${i}`, 9100 + i);
    const w = watch(g);
    await waitUntil(() => w.names().length === 4, { description: 'the initial list' });
    const listsBefore = listRequests();
    const historyBefore = w.history.length;

    fake.expireWatches();
    addPod(g, 'q-new', 9200);
    await waitUntil(() => w.names().includes('q-new'), {
      timeoutMs: 15_000,
      description: 'the pod added after expiry',
    });
    expect(w.restarts).toContain('expired');
    expect(listRequests()).toBeGreaterThan(listsBefore);
    // Every intermediate membership still had the four original pods.
    for (const names of w.history.slice(historyBefore)) {
      for (let i = 0; i < 4; i++) expect(names).toContain(`q-${i}`);
    }
  });

  it('a watch ended by the server resumes from the last resourceVersion without a relist', async () => {
    const g = uniqueRole();
    addPod(g, 'r-0', 9300);
    const w = watch(g);
    await waitUntil(() => w.names().length === 1, { description: 'the initial list' });
    const listsBefore = listRequests();
    // The watch may not be open yet right after the list: close until one was closed and resumed.
    await waitUntil(
      () => {
        fake.closeWatches();
        return w.restarts.includes('closed');
      },
      { description: 'the watch to be resumed' },
    );
    addPod(g, 'r-1', 9301);
    await waitUntil(() => w.names().includes('r-1'), { description: 'a pod added after the resume' });
    expect(listRequests()).toBe(listsBefore);
    expect(w.informer.lists).toBe(1);
  });

  it('lists in pages (limit/continue) and holds every pod of the pool', async () => {
    const g = uniqueRole();
    for (let i = 0; i < 5; i++) addPod(g, `pg-${i}`, 9600 + i);
    const w = watch(g, { listPageSize: 2 });
    await waitUntil(() => w.informer.synced && w.names().length === 5, { description: 'all five pods' });
    const pages = fake
      .requests()
      .filter((r) => r.path.endsWith('/pods') && r.query.includes(`group%3D${g}`) && !/watch=true/.test(r.query));
    expect(pages.map((r) => new URLSearchParams(r.query).get('limit'))).toEqual(['2', '2', '2']);
    expect(pages.filter((r) => r.query.includes('continue='))).toHaveLength(2);
  });

  it('a quiet selector in a busy namespace: each watch ends on the server’s bookmark, so compaction forces no relist', async () => {
    // The API server's own cadence (a bookmark about once a minute, and one as it ends a watch) and a
    // short watch-cache window (20 changes: other pods' churn pushes any version out within half a
    // second): a watch resumed from the last event's version would be 410 Gone and relist; one resumed
    // from the closing bookmark is not.
    const api = await startKubeApiFake({ rbac: discoveryRbac(), historyLimitEvents: 20 });
    try {
      const quiet = { kc: loadKubeConfig(discoveryKubeconfig(api)), namespace: api.namespace };
      api.createPod(podManifest({ name: 'quiet-0', port: 9700, labels: { group: 'quiet' } }));
      api.createPod(podManifest({ name: 'quiet-1', port: 9701, labels: { group: 'quiet' } }));
      const w = watch('quiet', { watchTimeoutSecs: 1, api: quiet });
      await waitUntil(() => w.names().length === 2, { description: 'the initial list' });
      const synced = w.history.length;
      let n = 0;
      const churn = setInterval(() => {
        api.createPod(podManifest({ name: `busy-${n}`, labels: { group: 'busy' } }));
        if (n > 0) api.deletePod(`busy-${n - 1}`);
        n++;
      }, 50);
      try {
        await waitUntil(() => w.restarts.length >= 3, { timeoutMs: 15_000, description: 'three resumed watches' });
      } finally {
        clearInterval(churn);
      }
      expect(w.restarts.every((r) => r === 'closed')).toBe(true);
      expect(w.informer.lists).toBe(1);
      for (const names of w.history.slice(synced)) expect(names).toEqual(['quiet-0', 'quiet-1']);
      api.createPod(podManifest({ name: 'quiet-2', port: 9702, labels: { group: 'quiet' } }));
      await waitUntil(() => w.names().length === 3, { description: 'a pod added after the churn' });
    } finally {
      for (const i of informers.splice(0)) await i.stop();
      await api.close();
    }
  });

  it('asks the server for bookmarks and its watch timeout, and resumes each watch from the last resourceVersion', async () => {
    const g = uniqueRole();
    addPod(g, 'b-0', 9500);
    const w = watch(g);
    await waitUntil(() => w.names().length === 1, { description: 'the initial list' });
    const watchQueries = () =>
      fake
        .requests()
        .filter((r) => r.path.endsWith('/pods') && /watch=true/.test(r.query) && r.query.includes(`group%3D${g}`))
        .map((r) => new URLSearchParams(r.query));
    await waitUntil(() => watchQueries().length >= 1, { description: 'the watch request' });
    const first = watchQueries()[0] as URLSearchParams;
    expect(first.get('allowWatchBookmarks')).toBe('true');
    expect(first.get('timeoutSeconds')).toBe('20');
    expect(first.get('resourceVersion')).not.toBe('');
    addPod(g, 'b-1', 9501);
    await waitUntil(() => w.names().includes('b-1'), { description: 'the second pod' });
    const rvAfterEvent = w.informer.resourceVersion;
    await waitUntil(
      () => {
        fake.closeWatches();
        return watchQueries().length >= 2;
      },
      { description: 'the resumed watch' },
    );
    expect(watchQueries()[1]?.get('resourceVersion')).toBe(rvAfterEvent);
  });

  it('API unreachable: backs off with doubling, jittered delays up to the cap, then recovers with the changes made meanwhile', async () => {
    const g = uniqueRole();
    addPod(g, 's-0', 9400);
    // Jitter draws 0, 1, 0.5, ...: -20%, +20% (clipped at the cap), exact.
    const draws = [0, 0.999_999, 0.5, 0.5, 0.5, 0.5];
    let draw = 0;
    const w = watch(g, { backoffMinMs: 40, backoffMaxMs: 160, random: () => draws[draw++ % draws.length] as number });
    await waitUntil(() => w.names().length === 1, { description: 'the initial list' });
    await fake.setUnreachable(true);
    try {
      await waitUntil(() => w.delays.length >= 4, { timeoutMs: 15_000, description: 'several backoffs' });
      expect(w.delays.slice(0, 4)).toEqual([32, 96, 160, 160]);
      addPod(g, 's-1', 9401);
      fake.deletePod('s-0');
    } finally {
      await fake.setUnreachable(false);
    }
    await waitUntil(() => w.names().join() === 's-1', {
      timeoutMs: 15_000,
      description: 'recovery with the new state',
    });
  });

  it('needs every verb deploy/ grants: without `watch` in the Role it lists once, then reports 403 and retries', async () => {
    const ns = 'no-watch';
    const rbac = discoveryRbac().map((o) => {
      const obj = structuredClone(o) as { kind?: string; rules?: { verbs: string[] }[] };
      if (obj.kind === 'Role') for (const r of obj.rules ?? []) r.verbs = r.verbs.filter((v) => v !== 'watch');
      return obj;
    });
    fake.loadRbac(rbac, ns);
    const user = serviceAccountUser(ns, 'pdrouter-discovery');
    fake.createPod(podManifest({ name: 'nw-0', namespace: ns, port: 9800, labels: { group: 'nw' } }));
    const errors: unknown[] = [];
    const informer = new PodInformer({
      kubeConfig: loadKubeConfig(fake.kubeconfigFor(user, { namespace: ns })),
      namespace: ns,
      labelSelector: 'group=nw',
      watchTimeoutSecs: 20,
      listPageSize: 500,
      onChange: () => {},
      backoff: { initialMs: 20, maxMs: 50, multiplier: 2, jitterFactor: 0 },
      onError: (err) => errors.push(err),
    });
    informers.push(informer);
    informer.start();
    await waitUntil(() => errors.length >= 2, { description: 'the forbidden watch to be reported' });
    expect(informer.lists).toBe(1);
    expect(errors.map((e) => statusCodeOf(e))).toContain(403);
    const forbidden = fake
      .requests()
      .filter((r) => r.path === `/api/v1/namespaces/${ns}/pods` && /watch=true/.test(r.query));
    expect(forbidden.length).toBeGreaterThanOrEqual(2);
  });
});
