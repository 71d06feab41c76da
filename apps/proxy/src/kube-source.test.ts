// The --service-discovery source against the wire-level Kubernetes API fake through the real client-node.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Snapshot } from '@pdrouter/core';
import { loadKubeConfig } from '@pdrouter/discovery';
import { type KubeApiFake, podManifest, startKubeApiFake, waitUntil } from '@pdrouter/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { kubernetesSnapshotSource } from './kube-source.ts';
import type { SnapshotSource } from './snapshot-source.ts';

let fake: KubeApiFake | undefined;
let source: SnapshotSource | undefined;

afterEach(async () => {
  await source?.close();
  await fake?.close();
  source = undefined;
  fake = undefined;
});

async function started(
  f: KubeApiFake,
  membership: Parameters<typeof kubernetesSnapshotSource>[0]['membership'],
  dataParallelSize = 1,
) {
  const applied: Snapshot[] = [];
  const rejected: string[] = [];
  source = kubernetesSnapshotSource({
    pool: 'p',
    membership,
    dataParallelSize,
    kubeConfig: loadKubeConfig(f.kubeconfigPath),
    debounceMs: 10,
  });
  await source.start(
    (s) => applied.push(s),
    (r) => rejected.push(r),
  );
  return { applied, rejected };
}

const names = (s: Snapshot | undefined, role: 'prefill' | 'decode' | 'plain') =>
  (s?.members[role] ?? []).map((m) => m.name);

describe('kubernetesSnapshotSource', () => {
  it('without a namespace watches every namespace (as vllm-router), port from --service-discovery-port', async () => {
    fake = await startKubeApiFake();
    fake.createPod(podManifest({ name: 'w-a', role: 'plain', ip: '10.0.0.1' }));
    fake.createPod(podManifest({ name: 'w-b', role: 'plain', ip: '10.0.0.2', namespace: 'team-b' }));
    fake.createPod(podManifest({ name: 'other', role: 'decode', ip: '10.0.0.3' }));
    const { applied } = await started(fake, {
      kind: 'kubernetes',
      port: 8000,
      selectors: { plain: 'llm-d.ai/role=plain' },
    });
    // start() resolved with the first complete list applied.
    expect(names(applied[0], 'plain')).toEqual(['w-a', 'w-b']);
    expect(applied[0]?.members.plain.map((m) => m.url)).toEqual(['http://10.0.0.1:8000', 'http://10.0.0.2:8000']);
    expect(fake.requests().some((r) => r.path === '/api/v1/pods')).toBe(true);
    fake.deletePod('w-b', 'team-b');
    await waitUntil(() => (names(applied.at(-1), 'plain').length === 1 ? true : undefined), { timeoutMs: 5000 });
    const seqs = applied.map((s) => s.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('a pod matching both selectors is a prefill pod only; bootstrap port from vllm.ai/bootstrap-port; DP ranks expand', async () => {
    fake = await startKubeApiFake();
    fake.createPod(
      podManifest({ name: 'p', labels: { tier: 'gpu', kind: 'prefill' }, ip: '10.0.0.1', bootstrapPort: 5600 }),
    );
    fake.createPod(podManifest({ name: 'd', labels: { tier: 'gpu', kind: 'decode' }, ip: '10.0.0.2' }));
    const { applied } = await started(
      fake,
      {
        kind: 'kubernetes',
        namespace: 'default',
        port: 8000,
        selectors: { prefill: 'kind=prefill', decode: 'tier=gpu' },
      },
      2,
    );
    const s = applied[0];
    expect(names(s, 'prefill')).toEqual(['p@0', 'p@1']);
    expect(names(s, 'decode')).toEqual(['d@0', 'd@1']);
    expect(s?.members.prefill.map((m) => [m.bootstrapPort, m.dpRank])).toEqual([
      [5600, 0],
      [5600, 1],
    ]);
  });

  it('keeps trying when the API refuses the token, and says why', async () => {
    fake = await startKubeApiFake();
    const path = join(tmpdir(), `pdrouter-bad-token-${process.pid}.yaml`);
    writeFileSync(path, readFileSync(fake.kubeconfigPath, 'utf8').replace(fake.token, 'not-the-token'));
    try {
      source = kubernetesSnapshotSource({
        pool: 'p',
        membership: { kind: 'kubernetes', port: 8000, selectors: { plain: 'a=b' } },
        dataParallelSize: 1,
        kubeConfig: loadKubeConfig(path),
        firstSyncWaitMs: 300,
      });
      const applied: Snapshot[] = [];
      const rejected: string[] = [];
      await source.start(
        (s) => applied.push(s),
        (r) => rejected.push(r),
      );
      await waitUntil(() => (rejected.some((r) => /401|Unauthorized/.test(r)) ? true : undefined), {
        timeoutMs: 5000,
      });
      expect(applied).toEqual([]);
    } finally {
      rmSync(path, { force: true });
    }
  });
});
