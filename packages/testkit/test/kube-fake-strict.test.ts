import { join } from 'node:path';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Lease,
  V1MicroTime,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type KubeApiFake, podManifest, readManifests, serviceAccountUser, startKubeApiFake } from '../src/index.ts';

/**
 * What a real API server refuses, refused here too: Lease updates without resourceVersion, fields that
 * do not decode or validate, requests without a token or beyond the token's RBAC rules (the Role that
 * deploy/ ships), and pages of a list served from one consistent snapshot.
 */

const NS = 'pd';
const DEPLOY_DISCOVERY = join(import.meta.dirname, '..', '..', '..', 'deploy', 'k8s', 'base', 'discovery');
const LEASE = 'pdrouter-discovery';
let fake: KubeApiFake;

beforeEach(async () => {
  fake = await startKubeApiFake({
    namespace: NS,
    rbac: readManifests(join(DEPLOY_DISCOVERY, 'role.yaml'), join(DEPLOY_DISCOVERY, 'role-binding.yaml')),
  });
});
afterEach(async () => {
  await fake?.close();
});

function clientsAs(kubeconfigPath: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return { core: kc.makeApiClient(CoreV1Api), coordination: kc.makeApiClient(CoordinationV1Api) };
}

/** The status code and the Status body of a refused call. */
async function refusal(promise: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ApiException) {
      return { code: err.code, body: typeof err.body === 'string' ? JSON.parse(err.body) : {} };
    }
    throw err;
  }
  throw new Error('expected the call to be refused');
}

const lease = (spec: Record<string, unknown>): V1Lease => ({ metadata: { name: LEASE }, spec }) as V1Lease;

describe('Lease and pod validation', () => {
  it('refuses a Lease update without metadata.resourceVersion with 422, as the real server does', async () => {
    const { coordination } = clientsAs(fake.kubeconfigPath);
    const created = await coordination.createNamespacedLease({
      namespace: NS,
      body: lease({ holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: new V1MicroTime() }),
    });
    const unconditional = { ...created, metadata: { ...created.metadata, resourceVersion: undefined } };
    const r = await refusal(coordination.replaceNamespacedLease({ namespace: NS, name: LEASE, body: unconditional }));
    expect(r.code).toBe(422);
    expect(r.body).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Invalid',
      code: 422,
      message: `Lease.coordination.k8s.io "${LEASE}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
      details: {
        name: LEASE,
        group: 'coordination.k8s.io',
        kind: 'Lease',
        causes: [{ field: 'metadata.resourceVersion' }],
      },
    });
    // A pod may be updated unconditionally (its strategy allows it).
    const { core } = clientsAs(fake.kubeconfigPath);
    const pod = await core.createNamespacedPod({ namespace: NS, body: podManifest({ name: 'p0' }) as V1Pod });
    const relabelled = { ...pod, metadata: { ...pod.metadata, resourceVersion: undefined, labels: { x: 'y' } } };
    await core.replaceNamespacedPod({ namespace: NS, name: 'p0', body: relabelled });
    expect(fake.getPod('p0')?.metadata.labels).toEqual({ x: 'y' });
  });

  it('refuses Lease fields that do not decode (400) or do not validate (422)', async () => {
    const { coordination } = clientsAs(fake.kubeconfigPath);
    const create = (spec: Record<string, unknown>) =>
      refusal(coordination.createNamespacedLease({ namespace: NS, body: lease(spec) }));
    // A plain Date serializes with milliseconds; metav1.MicroTime takes exactly six fractional digits.
    const millis = await create({ holderIdentity: 'a', renewTime: new Date() });
    expect(millis.code).toBe(400);
    expect(millis.body).toMatchObject({
      reason: 'BadRequest',
      message: expect.stringMatching(/^Lease in version "v1" cannot be handled as a Lease: parsing time/),
    });
    expect((await create({ leaseDurationSeconds: '15' })).code).toBe(400);
    const zero = await create({ leaseDurationSeconds: 0, leaseTransitions: -1 });
    expect(zero.code).toBe(422);
    expect(zero.body.message).toBe(
      `Lease.coordination.k8s.io "${LEASE}" is invalid: [spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]`,
    );
    expect(fake.leases()).toEqual([]);
  });

  it('refuses pods without containers, bad labels, bad ports or IPs, and spec changes', async () => {
    const { core } = clientsAs(fake.kubeconfigPath);
    const create = (pod: Record<string, unknown>) =>
      refusal(core.createNamespacedPod({ namespace: NS, body: pod as V1Pod }));
    const none = await create({ metadata: { name: 'x' }, spec: { containers: [] } });
    expect(none).toMatchObject({ code: 422, body: { message: 'Pod "x" is invalid: spec.containers: Required value' } });
    const label = await create({ ...podManifest({ name: 'x' }), metadata: { name: 'x', labels: { role: 'not ok!' } } });
    expect(label.code).toBe(422);
    expect(label.body.message).toContain('metadata.labels: Invalid value: "not ok!"');
    const base = podManifest({ name: 'x', port: 8000 });
    const port = structuredClone(base);
    port.spec = { ...port.spec, containers: [{ name: 'vllm', image: 'i', ports: [{ containerPort: 70000 }] }] };
    expect((await create(port)).body.message).toContain(
      'spec.containers[0].ports[0].containerPort: Invalid value: 70000',
    );
    const ip = structuredClone(base);
    if (ip.status) ip.status.podIP = 'not-an-ip';
    expect((await create(ip)).body.message).toContain('status.podIP: Invalid value: "not-an-ip"');
    expect(fake.listPods()).toEqual([]);

    const pod = await core.createNamespacedPod({ namespace: NS, body: base as V1Pod });
    const moved = { ...pod, spec: { ...pod.spec, nodeName: 'other-node' } } as V1Pod;
    const immutable = await refusal(core.replaceNamespacedPod({ namespace: NS, name: 'x', body: moved }));
    expect(immutable.code).toBe(422);
    expect(immutable.body.message).toContain('Pod "x" is invalid: spec: Forbidden: pod updates may not change fields');
  });
});

describe('bearer tokens and RBAC from deploy/', () => {
  const discovery = serviceAccountUser(NS, 'pdrouter-discovery');

  it('gives each subject of the Role binding its own token and allows exactly what the Role grants', async () => {
    expect(fake.users()).toEqual([discovery]);
    const { core, coordination } = clientsAs(fake.kubeconfigFor(discovery));
    fake.createPod(podManifest({ name: 'p0' }));
    // What discovery does: list/watch pods, create its Lease, get/update it by name.
    expect((await core.listNamespacedPod({ namespace: NS })).items).toHaveLength(1);
    const created = await coordination.createNamespacedLease({
      namespace: NS,
      body: lease({ holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: new V1MicroTime() }),
    });
    const read = await coordination.readNamespacedLease({ namespace: NS, name: LEASE });
    await coordination.replaceNamespacedLease({
      namespace: NS,
      name: LEASE,
      body: { ...read, spec: { ...read.spec, holderIdentity: 'b' } },
    });
    expect(fake.getLease(LEASE)?.spec?.holderIdentity).toBe('b');
    expect(created.metadata?.name).toBe(LEASE);

    // Everything else is 403, worded as the real authorizer words it.
    const getPod = await refusal(core.readNamespacedPod({ namespace: NS, name: 'p0' }));
    expect(getPod).toMatchObject({
      code: 403,
      body: {
        reason: 'Forbidden',
        message: `pods "p0" is forbidden: User "${discovery}" cannot get resource "pods" in API group "" in the namespace "${NS}"`,
      },
    });
    expect((await refusal(core.deleteNamespacedPod({ namespace: NS, name: 'p0' }))).code).toBe(403);
    expect((await refusal(core.listPodForAllNamespaces())).code).toBe(403);
    expect((await refusal(core.listNamespacedPod({ namespace: 'other' }))).code).toBe(403);
    expect((await refusal(coordination.listNamespacedLease({ namespace: NS }))).code).toBe(403);
    const otherLease = await refusal(coordination.readNamespacedLease({ namespace: NS, name: 'someone-else' }));
    expect(otherLease.code).toBe(403);
    expect(otherLease.body.message).toContain('leases.coordination.k8s.io "someone-else" is forbidden');
    expect((await refusal(coordination.deleteNamespacedLease({ namespace: NS, name: LEASE }))).code).toBe(403);
    expect(fake.getPod('p0')).toBeDefined();
  });

  it('refuses a request without a token or with an unknown one (401)', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: fake.url, caData: Buffer.from(fake.caCert).toString('base64') }],
      users: [{ name: 'anonymous' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'anonymous' }],
      currentContext: 'x',
    });
    expect((await refusal(kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NS }))).code).toBe(401);
  });
});

describe('list pagination (limit / continue)', () => {
  it('serves later pages from the first page’s snapshot, and 410 once that was compacted', async () => {
    const { core } = clientsAs(fake.kubeconfigPath);
    for (let i = 0; i < 5; i++) fake.createPod(podManifest({ name: `p${i}` }));
    const first = await core.listNamespacedPod({ namespace: NS, limit: 2 });
    expect(first.items.map((p) => p.metadata?.name)).toEqual(['p0', 'p1']);
    expect(first.metadata?.remainingItemCount).toBe(3);
    const token = first.metadata?._continue;
    expect(token).toBeTruthy();
    // Changes after the first page do not show in the later ones.
    fake.deletePod('p3');
    fake.createPod(podManifest({ name: 'p5' }));
    fake.updatePod('p2', (p) => {
      p.metadata.labels = { changed: 'yes' };
    });
    const second = await core.listNamespacedPod({ namespace: NS, limit: 2, _continue: token });
    expect(second.items.map((p) => p.metadata?.name)).toEqual(['p2', 'p3']);
    expect(second.items[0]?.metadata?.labels?.changed).toBeUndefined();
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    const third = await core.listNamespacedPod({ namespace: NS, limit: 2, _continue: second.metadata?._continue });
    expect(third.items.map((p) => p.metadata?.name)).toEqual(['p4']);
    expect(third.metadata?._continue).toBeUndefined();

    fake.compact();
    const gone = await refusal(core.listNamespacedPod({ namespace: NS, limit: 2, _continue: token }));
    expect(gone).toMatchObject({ code: 410, body: { reason: 'Expired' } });
    expect((await refusal(core.listNamespacedPod({ namespace: NS, _continue: 'garbage' }))).code).toBe(400);
  });
});
