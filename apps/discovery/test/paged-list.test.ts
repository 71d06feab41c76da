import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { type KubeApiFake, podManifest, startKubeApiFake } from '@pdrouter/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { discoveryKubeconfig, discoveryRbac } from '../scripts/deploy-rbac.ts';
import { listPodsPaged, loadKubeConfig } from '../src/index.ts';

// Paginated lists against the API fake (which serves later pages from the first page's snapshot, as etcd
// does), as discovery's ServiceAccount. Changes are made between two pages by running them right after the
// real client's first page request returns.

let fake: KubeApiFake;
let kc: KubeConfig;

beforeAll(async () => {
  fake = await startKubeApiFake({ rbac: discoveryRbac() });
  kc = loadKubeConfig(discoveryKubeconfig(fake));
});
afterEach(() => {
  for (const pod of fake.listPods()) fake.deletePod(pod.metadata.name as string);
});
afterAll(async () => {
  await fake?.close();
});

/** The real client, with `between` run once right after the first page came back. */
function clientChangingAfterFirstPage(between: () => void): CoreV1Api {
  const core = kc.makeApiClient(CoreV1Api);
  let pages = 0;
  const list = core.listNamespacedPod.bind(core);
  core.listNamespacedPod = async (params) => {
    const page = await list(params);
    if (pages++ === 0) between();
    return page;
  };
  return core;
}

const names = (items: { metadata?: { name?: string } }[]) => items.map((p) => p.metadata?.name);

describe('listPodsPaged', () => {
  it('pages with limit/continue and returns one consistent list at the first page’s resourceVersion', async () => {
    for (let i = 0; i < 5; i++) fake.createPod(podManifest({ name: `p${i}`, labels: { pool: 'a' } }));
    let rvAtFirstPage = 0;
    const core = clientChangingAfterFirstPage(() => {
      rvAtFirstPage = fake.resourceVersion;
      fake.deletePod('p4');
      fake.createPod(podManifest({ name: 'p5', labels: { pool: 'a' } }));
    });
    const list = await listPodsPaged(core, fake.namespace, 'pool=a', 2);
    expect(names(list.items)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    expect(list.metadata?.resourceVersion).toBe(String(rvAtFirstPage));
    expect(list.metadata?._continue).toBeUndefined();
    const pageRequests = fake.requests().filter((r) => r.path.endsWith('/pods') && r.query.includes('limit=2'));
    expect(pageRequests).toHaveLength(3);
  });

  it('starts over in one request when the continue token expired mid-list, never mixing two snapshots', async () => {
    for (let i = 0; i < 5; i++) fake.createPod(podManifest({ name: `q${i}`, labels: { pool: 'b' } }));
    const core = clientChangingAfterFirstPage(() => {
      fake.deletePod('q0');
      fake.createPod(podManifest({ name: 'q9', labels: { pool: 'b' } }));
      fake.compact();
    });
    const list = await listPodsPaged(core, fake.namespace, 'pool=b', 2);
    // The current state, whole: not q0 from the first page plus the later pages of the new state.
    expect(names(list.items)).toEqual(['q1', 'q2', 'q3', 'q4', 'q9']);
    expect(Number(list.metadata?.resourceVersion)).toBe(fake.resourceVersion);
  });
});
