// The NATS source with the sharded encoding against a real nats-server: a manifest is applied only once
// every shard it lists is in the bucket with its digest; meanwhile the previous view stays and the
// rejection is counted once with its precise reason.
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeManifest, encodeSnapshot, type Member, type Snapshot, shardSnapshot } from '@pdrouter/core';
import { connectNats, openSnapshotBucket, ShardedSnapshotWriter, shardKey } from '@pdrouter/nats-snapshots';
import { type NatsServer, startNatsServer, waitUntil } from '@pdrouter/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { natsSnapshotSource } from './nats-source.ts';
import type { SnapshotSource } from './snapshot-source.ts';

let server: NatsServer;
let writerConn: NatsConnection;
const sources: SnapshotSource[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  writerConn = await connectNats({ url: server.url, name: 'writer' });
});
afterEach(async () => {
  for (const s of sources.splice(0)) await s.close();
});
afterAll(async () => {
  await writerConn?.close();
  await server?.close();
});

function member(i: number): Member {
  return {
    name: `decode-${String(i).padStart(5, '0')}`,
    uid: `uid-${i}`,
    url: `http://10.1.${i >> 8}.${i & 255}:8000`,
    ready: true,
  };
}

function pool(name: string, seq: number, decode: number): Snapshot {
  return {
    pool: name,
    epoch: 1_700_000_000_000,
    seq,
    time: new Date(1_700_000_000_000 + seq).toISOString(),
    members: { prefill: [], decode: Array.from({ length: decode }, (_, i) => member(i)), plain: [] },
  };
}

function recorder() {
  const applied: Snapshot[] = [];
  const kinds: string[] = [];
  const reasons: string[] = [];
  return {
    applied,
    kinds,
    reasons,
    apply: (s: Snapshot) => applied.push(s),
    reject: (r: string, kind = 'source') => {
      reasons.push(r);
      kinds.push(kind);
    },
  };
}

async function start(bucketName: string, poolName: string) {
  const r = recorder();
  const source = natsSnapshotSource({ url: server.url, pool: poolName, bucket: bucketName });
  sources.push(source);
  await source.start(r.apply, r.reject);
  return r;
}

async function bucket(name: string): Promise<KV> {
  return openSnapshotBucket(writerConn, { bucket: name });
}

describe('natsSnapshotSource with sharded snapshots', () => {
  it('applies a manifest only once its missing shard arrives, keeping the previous view meanwhile', async () => {
    const kv = await bucket('sh-incomplete');
    const writer = new ShardedSnapshotWriter('p');
    const rev = await writer.publish(kv, pool('p', 1, 600), 0);
    const r = await start('sh-incomplete', 'p');
    await waitUntil(() => r.applied.length === 1, { description: 'the first sharded snapshot' });
    expect(encodeSnapshot(r.applied[0] as Snapshot)).toBe(encodeSnapshot(pool('p', 1, 600)));

    // A manifest put by hand whose first shard is not in the bucket.
    const next = pool('p', 2, 601);
    const { manifest, shards } = shardSnapshot(next);
    const absent = shards.find((s) => !shardSnapshot(pool('p', 1, 600)).shards.some((o) => o.digest === s.digest));
    for (const s of shards) if (s !== absent) await kv.put(shardKey('p', s.digest), s.raw);
    await kv.update('p', encodeManifest(manifest), rev.revision);
    await waitUntil(() => r.kinds.includes('incomplete'), { description: 'the incomplete manifest to be rejected' });
    expect(r.reasons.at(-1)).toContain(shardKey('p', absent?.digest ?? ''));
    // Retried, not re-counted, and nothing partial applied.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(r.kinds.filter((k) => k === 'incomplete')).toHaveLength(1);
    expect(r.applied).toHaveLength(1);

    await kv.put(shardKey('p', absent?.digest ?? ''), absent?.raw ?? '');
    await waitUntil(() => r.applied.length === 2, { timeoutMs: 10_000, description: 'the manifest once complete' });
    expect(encodeSnapshot(r.applied[1] as Snapshot)).toBe(encodeSnapshot(next));
  });

  it('rejects a shard whose content does not match its digest (mismatch), and applies the manifest once it does', async () => {
    const kv = await bucket('sh-mismatch');
    const s = pool('m', 1, 300);
    const { manifest, shards } = shardSnapshot(s);
    const [bad, ...good] = shards;
    for (const x of good) await kv.put(shardKey('m', x.digest), x.raw);
    await kv.put(shardKey('m', bad?.digest ?? ''), (bad?.raw ?? '').replace('"ready":true', '"ready":false'));
    await kv.put('m', encodeManifest(manifest));
    const r = await start('sh-mismatch', 'm');
    await waitUntil(() => r.kinds.includes('mismatch'), { description: 'the mismatched shard to be rejected' });
    expect(r.applied).toEqual([]);
    await kv.put(shardKey('m', bad?.digest ?? ''), bad?.raw ?? '');
    await waitUntil(() => r.applied.length === 1, {
      timeoutMs: 10_000,
      description: 'the manifest once the shard matches',
    });
    expect(r.kinds).toEqual(['mismatch']);
  });

  it('rejects a manifest whose shards hold another membership than its fingerprint (mismatch)', async () => {
    const kv = await bucket('sh-fingerprint');
    const { manifest, shards } = shardSnapshot(pool('f', 1, 40));
    for (const x of shards) await kv.put(shardKey('f', x.digest), x.raw);
    await kv.put('f', encodeManifest({ ...manifest, fingerprint: '0123456789abcdef' }));
    const r = await start('sh-fingerprint', 'f');
    await waitUntil(() => r.kinds.includes('mismatch'), { description: 'the fingerprint mismatch' });
    expect(r.reasons[0]).toMatch(/fingerprint/);
    await kv.put('f', encodeManifest({ ...manifest, seq: 2 }));
    await waitUntil(() => r.applied.length === 1, { description: 'the correct manifest' });
    expect(r.applied[0]?.seq).toBe(2);
  });

  it("rejects a hand-made manifest of another pool or with a far-future epoch, as a single value ('pool', 'future')", async () => {
    const kv = await bucket('sh-fencing');
    const writer = new ShardedSnapshotWriter('fp');
    const first = await writer.publish(kv, pool('fp', 1, 50), 0);
    const r = await start('sh-fencing', 'fp');
    await waitUntil(() => r.applied.length === 1, { description: 'the first snapshot' });
    const { manifest } = shardSnapshot(pool('fp', 1, 50));
    const rev = await kv.update('fp', encodeManifest({ ...manifest, pool: 'other-pool', seq: 2 }), first.revision);
    await kv.update('fp', encodeManifest({ ...manifest, epoch: Date.now() + 86_400_000, seq: 3 }), rev);
    await waitUntil(() => r.kinds.length === 2, { description: 'both manifests rejected' });
    expect(r.kinds).toEqual(['pool', 'future']);
    expect(r.applied).toHaveLength(1);
  });

  it('follows a 10,000-pod pool: the whole view, then a one-pod change and a heartbeat', async () => {
    const kv = await bucket('sh-large');
    const writer = new ShardedSnapshotWriter('big');
    const first = await writer.publish(kv, pool('big', 1, 10_000), 0);
    const r = await start('sh-large', 'big');
    await waitUntil(() => r.applied.length === 1, { timeoutMs: 15_000, description: 'the 10,000-pod snapshot' });
    expect(r.applied[0]?.members.decode).toHaveLength(10_000);
    const changed = pool('big', 2, 10_000);
    changed.members.decode[777] = { ...(changed.members.decode[777] as Member), ready: false };
    const second = await writer.publish(kv, changed, first.revision);
    expect(second.shardsWritten).toBe(1);
    await waitUntil(() => r.applied.length === 2, { timeoutMs: 10_000, description: 'the one-pod change' });
    expect(r.applied[1]?.members.decode[777]?.ready).toBe(false);
    const heartbeat = await writer.publish(kv, { ...changed, seq: 3 }, second.revision);
    expect(heartbeat.shardsWritten).toBe(0);
    await waitUntil(() => r.applied.length === 3, { timeoutMs: 10_000, description: 'the heartbeat' });
    expect(encodeSnapshot(r.applied[2] as Snapshot)).toBe(encodeSnapshot({ ...changed, seq: 3 }));
    expect(r.kinds).toEqual([]);
  });
});
