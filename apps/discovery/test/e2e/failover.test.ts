// Faults in the control plane: NATS down, the discovery leader killed, the Kubernetes API unreachable.
// Proxies keep routing on their last good rings throughout and catch up once the fault is gone.
import { encodeSnapshot, type Snapshot } from '@pdrouter/core';
import { connectNats, openSnapshotBucket, readAssembledSnapshot } from '@pdrouter/nats-snapshots';
import { waitUntil } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DiscoveryReplica,
  type LocalCluster,
  type SimPod,
  startLocalCluster,
} from '../../scripts/local-cluster.ts';
import { completion, ringsFor, waitForRings } from './helpers.ts';

const LEASE_SECS = 2;
let cluster: LocalCluster;
const members = new Map<string, SimPod>();

beforeAll(async () => {
  cluster = await startLocalCluster({
    prefill: 4,
    decode: 4,
    leaseDurationSecs: LEASE_SECS,
    debounceMs: 50,
    heartbeatSecs: 1,
  });
  for (const p of cluster.simPods) members.set(p.name, p);
  await waitForRings(cluster, ringsFor(members.values()), { timeoutMs: 20_000, description: 'the initial rings' });
}, 90_000);

afterAll(async () => {
  await cluster?.close();
}, 30_000);

function setReady(name: string, ready: boolean): void {
  cluster.api.setPodReady(name, ready);
  if (ready) members.set(name, cluster.simPods.find((p) => p.name === name) as SimPod);
  else members.delete(name);
}

async function leaderReplica(): Promise<DiscoveryReplica> {
  // A killed replica does not answer: it is not the leader.
  const states = await Promise.all(cluster.discoveries.map((d) => d.state().catch(() => undefined)));
  const leader = cluster.discoveries[states.findIndex((s) => s?.leader === true)];
  if (!leader) throw new Error('no discovery replica leads');
  return leader;
}

/** One sample from a metrics endpoint (0 when absent); `series` is the name with its labels, if any. */
async function metricValue(metricsUrl: string, series: string): Promise<number> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function everyProxyServes(key: string): Promise<void> {
  for (const p of cluster.proxies) {
    const r = await completion(p.url, key);
    expect(r.status, `${p.name}: ${r.body}`).toBe(200);
  }
}

/** Samples every proxy's (epoch, seq) in the background; records any step backwards. */
function watchOrder(): { stop(): Promise<string[]> } {
  const last = new Map<string, [number, number]>();
  const regressions: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      for (const p of cluster.proxies) {
        const s = await p.adminState().catch(() => undefined);
        const snap = s?.snapshot;
        if (!snap) continue;
        const prev = last.get(p.name);
        if (prev && (snap.epoch < prev[0] || (snap.epoch === prev[0] && snap.seq < prev[1]))) {
          regressions.push(`${p.name}: (${prev.join(',')}) -> (${snap.epoch},${snap.seq})`);
        }
        last.set(p.name, [snap.epoch, snap.seq]);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return regressions;
    },
  };
}

describe('control-plane faults', () => {
  it('NATS killed: proxies keep serving the last good rings; NATS back: updates resume without restarts', async () => {
    const before = ringsFor(members.values());
    const pids = cluster.proxies.map((p) => p.proc.proc.pid);
    await cluster.nats.kill();
    await everyProxyServes('nats-down-1');
    const leader = await leaderReplica();
    const errorsBefore = await metricValue(`${leader.url}/metrics`, 'pdrouter_discovery_publish_errors_total');
    setReady('prefill-0', false);
    // Discovery sees the change and fails to publish it: nothing can reach the proxies.
    await waitUntil(
      async () =>
        !(await leader.state()).members.prefill.includes('prefill-0') &&
        (await metricValue(`${leader.url}/metrics`, 'pdrouter_discovery_publish_errors_total')) > errorsBefore,
      { timeoutMs: 20_000, description: 'the leader to see the change and fail to publish it' },
    );
    // They still route on the rings they had.
    await waitForRings(cluster, before, { timeoutMs: 2_000, description: 'the old rings kept' });
    await everyProxyServes('nats-down-2');

    await cluster.nats.start();
    await waitForRings(cluster, ringsFor(members.values()), {
      timeoutMs: 30_000,
      description: 'the change made during the outage to arrive',
    });
    setReady('prefill-0', true);
    await waitForRings(cluster, ringsFor(members.values()), { timeoutMs: 15_000, description: 'a later change' });
    expect(cluster.proxies.map((p) => p.proc.proc.pid)).toEqual(pids);
    expect(cluster.proxies.every((p) => !p.proc.exited)).toBe(true);
  }, 90_000);

  it('discovery leader killed: the other replica publishes within the lease duration; no stale snapshot wins', async () => {
    const order = watchOrder();
    const states = await Promise.all(cluster.discoveries.map((d) => d.state()));
    const leaderIndex = states.findIndex((s) => s.leader);
    expect(leaderIndex).toBeGreaterThanOrEqual(0);
    const oldEpoch = states[leaderIndex]?.epoch as number;
    const follower = cluster.discoveries[1 - leaderIndex];
    if (!follower) throw new Error('no follower replica');

    await cluster.discoveries[leaderIndex]?.proc.stop('SIGKILL', 0);
    const killedAt = Date.now();
    // A change right after the crash can only reach the proxies through the new leader.
    setReady('decode-1', false);
    await waitForRings(cluster, ringsFor(members.values()), {
      timeoutMs: 20_000,
      description: 'the new leader to publish the change',
    });
    const tookOverMs = Date.now() - killedAt;
    const followerState = await follower.state();
    expect(followerState.leader).toBe(true);
    expect(followerState.epoch).toBeGreaterThan(oldEpoch);
    const proxyStates = await Promise.all(cluster.proxies.map((p) => p.adminState()));
    for (const s of proxyStates) expect(s.snapshot?.epoch).toBe(followerState.epoch);
    // Takeover waits for the Lease to expire (LEASE_SECS) plus one retry period; the slack covers process
    // scheduling on a loaded machine.
    console.log(
      `[failover] leader killed -> new leader's snapshot on every proxy in ${tookOverMs} ms (lease ${LEASE_SECS} s)`,
    );
    expect(tookOverMs).toBeLessThan(LEASE_SECS * 1000 + 5_000);

    // The crashed replica comes back as a follower: it must not publish, and the proxies never go back.
    const restarted = await cluster.startDiscovery(leaderIndex);
    await waitUntil(async () => (await restarted.state()).members.decode.length > 0, {
      description: 'the restarted replica to sync',
    });
    // Two more heartbeats of the new leader while the restarted replica runs: it stays a follower.
    const seqNow = (await follower.state()).seq;
    await waitUntil(async () => (await follower.state()).seq >= seqNow + 2, {
      description: 'two heartbeats of the new leader',
    });
    const after = await Promise.all(cluster.discoveries.map((d) => d.state()));
    expect(after.filter((s) => s.leader)).toHaveLength(1);
    expect((await restarted.state()).leader).toBe(false);
    setReady('decode-1', true);
    await waitForRings(cluster, ringsFor(members.values()), { description: 'decode-1 back' });
    expect(await order.stop()).toEqual([]);
  }, 90_000);

  it('Kubernetes API unreachable: discovery backs off without crashing, proxies keep serving, changes flow once it is back', async () => {
    await cluster.api.setUnreachable(true);
    try {
      for (const d of cluster.discoveries) {
        await waitUntil(
          async () =>
            (await metricValue(`${d.url}/metrics`, 'pdrouter_discovery_api_errors_total{role="prefill"}')) >= 2,
          { timeoutMs: 20_000, description: `${d.identity} to back off from the API twice` },
        );
        expect(d.proc.exited).toBe(false);
        const health = await fetch(`${d.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
        expect(health.status).toBe(200);
      }
      await everyProxyServes('api-down');
    } finally {
      await cluster.api.setUnreachable(false);
    }
    setReady('prefill-2', false);
    await waitForRings(cluster, ringsFor(members.values()), {
      timeoutMs: 30_000,
      description: 'a change after the API is back',
    });
    setReady('prefill-2', true);
    await waitForRings(cluster, ringsFor(members.values()), { timeoutMs: 15_000, description: 'prefill-2 back' });
  }, 90_000);

  it('values put into the bucket by hand cannot pin the fleet: future epoch, same epoch seq+N, another pool, with a leader kill in between', async () => {
    const nc = await connectNats({ url: cluster.nats.url, name: 'e2e-fencing' });
    const proxyStates = () => Promise.all(cluster.proxies.map((p) => p.adminState()));
    const rejected = (reason: string) =>
      Promise.all(
        cluster.proxies.map((p) => metricValue(p.metricsUrl, `pdrouter_snapshots_rejected_total{reason="${reason}"}`)),
      );
    const current = async (): Promise<Snapshot> => {
      // The pool key holds a manifest; the whole snapshot is assembled from its shards.
      const read = await readAssembledSnapshot(kv, 'default');
      if (read === undefined || !read.ok) throw new Error(read?.error ?? 'no snapshot');
      return read.snapshot;
    };
    const kv = await openSnapshotBucket(nc, { create: false });
    try {
      await waitForRings(cluster, ringsFor(members.values()), { description: 'the rings before tampering' });
      const good = await current();
      const shrunk = { ...good.members, decode: good.members.decode.slice(1) };

      // 1. An epoch a day ahead: every proxy refuses it (counted as "future"), rings unchanged.
      const futureBefore = await rejected('future');
      await kv.put('default', encodeSnapshot({ ...good, epoch: Date.now() + 86_400_000, seq: 1, members: shrunk }));
      await waitUntil(async () => (await rejected('future')).every((n, i) => n > (futureBefore[i] ?? 0)), {
        description: 'every proxy to reject the future epoch',
      });
      await waitForRings(cluster, ringsFor(members.values()), { timeoutMs: 2_000, description: 'rings unchanged' });

      // 2. The leader dies; the standby takes over. It must not follow the bogus epoch: its snapshots,
      // with a change made after the kill, reach every proxy.
      const leaderIndex = cluster.discoveries.indexOf(await leaderReplica());
      await cluster.discoveries[leaderIndex]?.proc.stop('SIGKILL', 0);
      setReady('decode-2', false);
      await waitForRings(cluster, ringsFor(members.values()), {
        timeoutMs: 20_000,
        description: 'the new leader to publish over the future epoch',
      });
      const newLeader = await leaderReplica();
      const afterTakeover = await current();
      expect(afterTakeover.epoch).toBeLessThan(Date.now() + 60_000);

      // 3. Same epoch, seq far ahead, a member missing: the leader answers the foreign write with a new
      // epoch at its next heartbeat, so proxies are back on the true membership within about one heartbeat.
      const foreignBefore = await metricValue(`${newLeader.url}/metrics`, 'pdrouter_discovery_foreign_writes_total');
      await kv.put('default', encodeSnapshot({ ...afterTakeover, seq: afterTakeover.seq + 1_000, members: shrunk }));
      await waitUntil(
        async () =>
          (await metricValue(`${newLeader.url}/metrics`, 'pdrouter_discovery_foreign_writes_total')) > foreignBefore,
        { description: 'the leader to notice the foreign write' },
      );
      await waitUntil(
        async () => (await proxyStates()).every((st) => (st.snapshot?.epoch ?? 0) > afterTakeover.epoch),
        { description: "every proxy on the leader's new epoch" },
      );
      await waitForRings(cluster, ringsFor(members.values()), { description: 'the true membership again' });
      expect((await newLeader.state()).leader).toBe(true);

      // 4. Another pool's snapshot under this pool's key: refused as "pool".
      const poolBefore = await rejected('pool');
      await kv.put('default', encodeSnapshot({ ...(await current()), pool: 'another-pool', seq: 5_000_000 }));
      await waitUntil(async () => (await rejected('pool')).every((n, i) => n > (poolBefore[i] ?? 0)), {
        description: "every proxy to reject the other pool's snapshot",
      });
      await waitForRings(cluster, ringsFor(members.values()), { description: 'rings unchanged by the other pool' });
      setReady('decode-2', true);
      await waitForRings(cluster, ringsFor(members.values()), { description: 'decode-2 back' });
      await cluster.startDiscovery(leaderIndex);
    } finally {
      await nc.close();
    }
  }, 90_000);
});
