// Two discovery replicas, two proxy replicas, 8+8 simulated pods (plus spares) registered in the Kubernetes
// API fake: identical rings everywhere, convergence after every kind of pod change, no failed request
// under load during churn, 410 relists without spurious removals, and hand-made bad snapshots rejected.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSnapshot } from '@pdrouter/core';
import { connectNats, openSnapshotBucket, readAssembledSnapshot } from '@pdrouter/nats-snapshots';
import { kubectlFor, runCommand, StopWaiting, waitUntil } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCluster, REPO_ROOT, type SimPod, startLocalCluster } from '../../scripts/local-cluster.ts';
import { completion, LoadGenerator, percentile, podStats, ringsFor, waitForRings } from './helpers.ts';

const CTL = `${REPO_ROOT}/apps/ctl/src/main.ts`;
let cluster: LocalCluster;
/** The pods that should currently be members, by name. */
const members = new Map<string, SimPod>();
let spares: SimPod[] = [];

beforeAll(async () => {
  cluster = await startLocalCluster({
    prefill: 8,
    decode: 8,
    sparePerRole: 2,
    leaseDurationSecs: 2,
    debounceMs: 50,
    heartbeatSecs: 1,
  });
  for (const role of ['prefill', 'decode'] as const) {
    const pods = cluster.simPods.filter((p) => p.role === role);
    for (const p of pods.slice(0, 8)) members.set(p.name, p);
    spares.push(...pods.slice(8));
  }
  await waitForRings(cluster, ringsFor(members.values()), { timeoutMs: 20_000, description: 'the initial rings' });
}, 90_000);

afterAll(async () => {
  await cluster?.close();
}, 30_000);

async function proxyFingerprints(): Promise<string[]> {
  const states = await Promise.all(cluster.proxies.map((p) => p.adminState()));
  return states.map((s) => s.snapshot?.fingerprint ?? 'none');
}

async function maxProxySeq(): Promise<number> {
  const states = await Promise.all(cluster.proxies.map((p) => p.adminState()));
  return Math.max(...states.map((s) => s.snapshot?.seq ?? 0));
}

/** Ends a wait at once when a proxy's ring moved (a member removed by the relist would show here). */
async function ringsUnchangedSince(before: string[]): Promise<void> {
  const now = await proxyFingerprints();
  if (now.join() !== before.join()) throw new StopWaiting(`rings changed: ${before.join()} -> ${now.join()}`);
}

/** Which prefill and decode pod served one request: the pods whose counters moved. */
async function servedBy(proxyUrl: string, key: string): Promise<{ prefill: string; decode: string }> {
  const before = await podStats(cluster);
  const r = await completion(proxyUrl, key);
  expect(r.status).toBe(200);
  const after = await podStats(cluster);
  const moved = (pred: (name: string) => boolean, field: 'prefillRequests' | 'requests') =>
    [...after.values()].filter((p) => pred(p.name) && p[field] > (before.get(p.name)?.[field] ?? 0)).map((p) => p.name);
  const prefill = moved((n) => n.startsWith('prefill-'), 'prefillRequests');
  const decode = moved((n) => n.startsWith('decode-'), 'requests');
  expect(prefill).toHaveLength(1);
  expect(decode).toHaveLength(1);
  return { prefill: prefill[0] as string, decode: decode[0] as string };
}

describe('distributed mode: two discovery replicas, two proxies', () => {
  it('both proxies use the leader snapshot and route the same keys to the same pods, as pdrouterctl predicts', async () => {
    const states = await Promise.all(cluster.discoveries.map((d) => d.state()));
    expect(states.filter((s) => s.leader)).toHaveLength(1);
    const leader = states.find((s) => s.leader);
    const fps = await proxyFingerprints();
    expect(new Set(fps).size).toBe(1);
    expect(fps[0]).toBe(leader?.fingerprint);
    for (const [i, d] of cluster.discoveries.entries()) {
      const isLeader = states[i]?.leader === true;
      expect(await metricSum(`${d.url}/metrics`, 'pdrouter_discovery_leader ')).toBe(isLeader ? 1 : 0);
      expect(await metricSum(`${d.url}/metrics`, 'pdrouter_discovery_members', 'role="prefill"')).toBe(8);
      const published = await metricSum(`${d.url}/metrics`, 'pdrouter_discovery_snapshots_published_total');
      if (isLeader) expect(published).toBeGreaterThan(0);
      else expect(published).toBe(0);
    }

    const urlToName = new Map(cluster.simPods.map((p) => [p.url, p.name]));
    const natsSource = `${cluster.nats.url}/default`;
    for (let i = 0; i < 6; i++) {
      const key = `session-${i}`;
      const [a, b] = [cluster.proxies[0], cluster.proxies[1]];
      const viaA = await servedBy(a?.url as string, key);
      const viaB = await servedBy(b?.url as string, key);
      expect(viaB).toEqual(viaA);
      const body = JSON.stringify({ model: 'm', prompt: `hello from ${key}`, max_tokens: 3 });
      const ctl = await runCommand(
        process.execPath,
        [CTL, 'explain', '--snapshot', natsSource, '-H', `x-session-id: ${key}`, '--body', body],
        { cwd: REPO_ROOT },
      );
      expect(ctl.code, ctl.stderr).toBe(0);
      const predicted = JSON.parse(ctl.stdout) as {
        prefill: { owner: string };
        decode: { owner: string };
        snapshot: { fingerprint: string };
      };
      expect(urlToName.get(predicted.prefill.owner)).toBe(viaA.prefill);
      expect(urlToName.get(predicted.decode.owner)).toBe(viaA.decode);
      expect(predicted.snapshot.fingerprint).toBe(leader?.fingerprint);
    }
  }, 60_000);

  it('pdrouterctl --snapshot nats:// fails clearly for a pool without a snapshot or an unreachable server', async () => {
    const missing = await runCommand(
      process.execPath,
      [CTL, 'route', '--snapshot', `${cluster.nats.url}/no-such-pool`, '--key', 'k'],
      { cwd: REPO_ROOT },
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no snapshot for pool "no-such-pool"');
    const down = await runCommand(
      process.execPath,
      [CTL, 'route', '--snapshot', 'nats://127.0.0.1:1/default', '--key', 'k'],
      {
        cwd: REPO_ROOT,
      },
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot connect to NATS at nats://127.0.0.1:1');
  }, 30_000);

  it('measures pod change -> every proxy on the new ring (readiness flips)', async () => {
    const samples: number[] = [];
    const candidates = [...members.values()];
    for (let i = 0; i < 24; i++) {
      const pod = candidates[(i * 5) % candidates.length] as SimPod;
      members.delete(pod.name);
      const t0 = performance.now();
      cluster.api.setPodReady(pod.name, false);
      await waitForRings(cluster, ringsFor(members.values()), { description: `${pod.name} to leave` });
      samples.push(performance.now() - t0);
      members.set(pod.name, pod);
      const t1 = performance.now();
      cluster.api.setPodReady(pod.name, true);
      await waitForRings(cluster, ringsFor(members.values()), { description: `${pod.name} to come back` });
      samples.push(performance.now() - t1);
    }
    samples.sort((x, y) => x - y);
    const p50 = percentile(samples, 50);
    const p99 = percentile(samples, 99);
    // The figure this suite exists to produce; printed for the record, not asserted (no speed assertions).
    console.log(
      `[convergence] pod change -> all ${cluster.proxies.length} proxies on the new ring: n=${samples.length} ` +
        `p50=${p50.toFixed(1)} ms p99=${p99.toFixed(1)} ms max=${samples.at(-1)?.toFixed(1)} ms (debounce 50 ms)`,
    );
    expect(samples).toHaveLength(48);
  }, 120_000);

  it('scale up, readiness flips, a terminating pod and scale down converge with no failed request under load', async () => {
    const load = new LoadGenerator(cluster, 6);
    // Each configuration serves traffic for a moment before the next change.
    const dwell = async () => {
      const target = load.ok + 10;
      await waitUntil(() => load.ok >= target || load.failures.length > 0, {
        timeoutMs: 20_000,
        description: 'ten more requests on this configuration',
      });
    };
    try {
      await dwell();
      // Scale up: the spare pods join.
      for (const pod of spares) {
        cluster.addPod(pod);
        members.set(pod.name, pod);
      }
      spares = [];
      await waitForRings(cluster, ringsFor(members.values()), { description: 'scale up' });
      await dwell();

      // Readiness flips.
      const flip = ['prefill-1', 'decode-2'];
      for (const name of flip) {
        cluster.api.setPodReady(name, false);
        members.delete(name);
      }
      await waitForRings(cluster, ringsFor(members.values()), { description: 'un-ready pods to leave' });
      await dwell();
      for (const name of flip) {
        cluster.api.setPodReady(name, true);
        members.set(name, cluster.simPods.find((p) => p.name === name) as SimPod);
      }
      await waitForRings(cluster, ringsFor(members.values()), { description: 'ready pods to return' });
      await dwell();

      // A pod terminating: it leaves the rings first, then its process stops, then it is deleted.
      // Scale down the same way: members leave before their servers go away, so no request is lost.
      for (const name of ['prefill-3', 'decode-8', 'decode-9']) {
        cluster.api.markTerminating(name);
        members.delete(name);
      }
      await waitForRings(cluster, ringsFor(members.values()), { description: 'terminating pods to leave' });
      await dwell();
      for (const name of ['prefill-3', 'decode-8', 'decode-9']) {
        const res = await fetch(`${cluster.simControl}/pods/${name}/stop`, {
          method: 'POST',
          signal: AbortSignal.timeout(5_000),
        });
        expect(res.status).toBe(200);
        cluster.api.deletePod(name);
      }
      await dwell();
    } finally {
      await load.stop();
    }
    console.log(`[churn] ${load.ok} requests through both proxies during the churn, ${load.failures.length} failed`);
    expect(load.failures).toEqual([]);
    expect(load.ok).toBeGreaterThan(20);
    const fps = await proxyFingerprints();
    expect(new Set(fps).size).toBe(1);
  }, 90_000);

  it('watch expiry (410): discovery relists, proxies never see a member removed, later changes still arrive', async () => {
    const expected = ringsFor(members.values());
    const before = await proxyFingerprints();
    const restartsBefore = await expiredRestarts();
    cluster.api.expireWatches();
    // Until the relist has happened and been published (one more heartbeat), no proxy's ring changes.
    await waitUntil(
      async () => {
        await ringsUnchangedSince(before);
        return (await expiredRestarts()) > restartsBefore;
      },
      { description: 'an expired-watch relist' },
    );
    const seqAfterRelist = await maxProxySeq();
    await waitUntil(
      async () => {
        await ringsUnchangedSince(before);
        return (await maxProxySeq()) > seqAfterRelist;
      },
      { description: 'a publication after the relist' },
    );
    await waitForRings(cluster, expected);
    const pod = members.get('decode-0') as SimPod;
    cluster.api.setPodReady('decode-0', false);
    members.delete('decode-0');
    await waitForRings(cluster, ringsFor(members.values()), { description: 'a change after the relist' });
    cluster.api.setPodReady('decode-0', true);
    members.set('decode-0', pod);
    await waitForRings(cluster, ringsFor(members.values()), { description: 'decode-0 back' });
  }, 60_000);

  it('pods changed with the real kubectl (delete, create, un-ready) reach every proxy', async () => {
    const kubectl = await kubectlFor(cluster.api.kubeconfigPath);
    const dir = mkdtempSync(join(tmpdir(), 'pdrouter-e2e-kubectl-'));
    try {
      const listed = await kubectl.ok(['get', 'pods', '-l', 'llm-d.ai/role=decode', '-o', 'name']);
      expect(listed).toContain('pod/decode-1');

      const gone = members.get('decode-1') as SimPod;
      // A graceful delete (the server's default 30 s): the pod leaves the rings as soon as it is Terminating,
      // long before the object goes.
      await kubectl.ok(['delete', 'pod', 'decode-1', '--wait=false']);
      members.delete('decode-1');
      await waitForRings(cluster, ringsFor(members.values()), { description: 'kubectl delete to converge' });
      expect(cluster.api.getPod('decode-1')?.metadata.deletionTimestamp).toBeDefined();
      await kubectl.ok(['delete', 'pod', 'decode-1', '--grace-period=0', '--force']);
      expect(cluster.api.getPod('decode-1')).toBeUndefined();

      const manifest = join(dir, 'decode-1.yaml');
      writeFileSync(
        manifest,
        [
          'apiVersion: v1',
          'kind: Pod',
          'metadata:',
          '  name: decode-1',
          '  labels:',
          '    llm-d.ai/role: decode',
          '  annotations:',
          `    vllm.ai/port: "${gone.port}"`,
          'spec:',
          '  containers:',
          '    - name: vllm',
          '      image: vllm/vllm-openai:latest',
          '',
        ].join('\n'),
      );
      await kubectl.ok(['create', '-f', manifest]);
      members.set('decode-1', gone);
      await waitForRings(cluster, ringsFor(members.values()), { description: 'kubectl create to converge' });

      const notReady = JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'False' }] } });
      if (kubectl.supportsSubresource) {
        await kubectl.ok(['patch', 'pod', 'prefill-0', '--subresource=status', '--type=merge', '-p', notReady]);
      } else {
        // kubectl < 1.24 cannot write the status subresource.
        cluster.api.setPodReady('prefill-0', false);
      }
      const p0 = members.get('prefill-0') as SimPod;
      members.delete('prefill-0');
      await waitForRings(cluster, ringsFor(members.values()), { description: 'the un-ready pod to leave' });
      cluster.api.setPodReady('prefill-0', true);
      members.set('prefill-0', p0);
      await waitForRings(cluster, ringsFor(members.values()), { description: 'prefill-0 back' });
    } finally {
      kubectl.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a malformed or older snapshot put into the bucket by hand is rejected; the last good one stays', async () => {
    const nc = await connectNats({ url: cluster.nats.url, name: 'e2e-tamper' });
    try {
      const kv = await openSnapshotBucket(nc, { create: false });
      const current = await readAssembledSnapshot(kv, 'default');
      expect(current?.ok).toBe(true);
      if (current === undefined || !current.ok) return;
      const good = await proxyFingerprints();
      const rejectedBefore = await rejectedTotals();

      await kv.put('default', '{"pool":"default","epoch":');
      await kv.put(
        'default',
        encodeSnapshot({
          ...current.snapshot,
          epoch: current.snapshot.epoch - 1,
          seq: 999_999,
          members: { prefill: [], decode: [], plain: [] },
        }),
      );
      await waitUntil(async () => (await rejectedTotals()).every((n, i) => n >= (rejectedBefore[i] ?? 0) + 2), {
        description: 'both bad values rejected by every proxy',
      });
      expect(await proxyFingerprints()).toEqual(good);
      // Requests still flow on the last good rings. The leader answers the foreign writes with a new
      // epoch at its next heartbeat, which every proxy accepts.
      for (const p of cluster.proxies) expect((await completion(p.url, 'after-tamper')).status).toBe(200);
      const epochs = async () =>
        (await Promise.all(cluster.proxies.map((p) => p.adminState()))).map((s) => s.snapshot?.epoch ?? 0);
      await waitUntil(async () => (await epochs()).every((e) => e > current.snapshot.epoch), {
        description: "every proxy on the leader's new epoch",
      });
      expect(await proxyFingerprints()).toEqual(good);
    } finally {
      await nc.close();
    }
  }, 60_000);
});

async function metricSum(url: string, name: string, labelFilter = ''): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && line.includes(labelFilter)) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

async function expiredRestarts(): Promise<number> {
  const values = await Promise.all(
    cluster.discoveries.map((d) =>
      metricSum(`${d.url}/metrics`, 'pdrouter_discovery_watch_restarts_total', 'reason="expired"'),
    ),
  );
  return values.reduce((a, b) => a + b, 0);
}

async function rejectedTotals(): Promise<number[]> {
  return Promise.all(cluster.proxies.map((p) => metricSum(p.metricsUrl, 'pdrouter_snapshots_rejected_total')));
}
