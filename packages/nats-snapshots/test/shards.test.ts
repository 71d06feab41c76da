import type { NatsConnection } from '@nats-io/transport-node';
import {
  encodeManifest,
  encodeSnapshot,
  type Member,
  membershipSum,
  parseStoredValue,
  type Snapshot,
  shardSnapshot,
} from '@pdrouter/core';
import { type NatsServer, startNatsServer } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectNats,
  openSnapshotBucket,
  RevisionConflictError,
  readAssembledSnapshot,
  ShardedSnapshotReader,
  ShardedSnapshotWriter,
  shardKey,
} from '../src/index.ts';

let server: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url, name: 'shards-test' });
});
afterAll(async () => {
  await nc?.close();
  await server?.close();
});

function member(i: number): Member {
  // Pod-sized fields: a Deployment pod's name and a 36-character uid, as the API server makes them.
  const hex = i.toString(16).padStart(12, '0');
  return {
    name: `vllm-decode-6d4f9c7b8-pod-${String(i).padStart(5, '0')}`,
    uid: `3f2a9c1e-7b4d-4e8a-9c2f-${hex}`,
    url: `http://10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:8000`,
    ready: true,
  };
}

function pool(name: string, decode: number, seq = 1): Snapshot {
  return {
    pool: name,
    epoch: 1_700_000_000_000,
    seq,
    time: new Date(1_700_000_000_000 + seq).toISOString(),
    members: {
      prefill: [{ ...member(900_000), bootstrapPort: 8998 }],
      decode: Array.from({ length: decode }, (_, i) => member(i)),
      plain: [],
    },
  };
}

async function shardKeys(kv: Awaited<ReturnType<typeof openSnapshotBucket>>, name: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of await kv.keys(`${name}=shard.*`)) keys.push(k);
  return keys.sort();
}

describe('sharded snapshots in a real bucket', () => {
  it('round trip: shards and manifest written, the reader assembles the same snapshot', async () => {
    const kv = await openSnapshotBucket(nc, { bucket: 'shards-roundtrip' });
    const s = pool('p', 2_000);
    const writer = new ShardedSnapshotWriter('p');
    const report = await writer.publish(kv, s, 0);
    const { manifest, shards } = shardSnapshot(s);
    expect(shards.length).toBe(8);
    expect(report.shardsWritten).toBe(8);
    expect((await kv.get('p'))?.string()).toBe(encodeManifest(manifest));
    expect(await shardKeys(kv, 'p')).toEqual(shards.map((x) => shardKey('p', x.digest)).sort());
    const read = await readAssembledSnapshot(kv, 'p');
    expect(read?.ok).toBe(true);
    if (read?.ok) expect(encodeSnapshot(read.snapshot)).toBe(encodeSnapshot(s));
    // The manifest is compare-and-set on its revision.
    await expect(writer.publish(kv, { ...s, seq: 2 }, report.revision - 1)).rejects.toBeInstanceOf(
      RevisionConflictError,
    );
  });

  it('a one-pod change writes one shard, a heartbeat none', async () => {
    const kv = await openSnapshotBucket(nc, { bucket: 'shards-delta' });
    const writer = new ShardedSnapshotWriter('p');
    const first = await writer.publish(kv, pool('p', 10_000, 1), 0);
    expect(first.shardsWritten).toBe(64);
    expect(first.snapshotBytes).toBeGreaterThan(1_048_576);
    const heartbeat = await writer.publish(kv, pool('p', 10_000, 2), first.revision);
    expect(heartbeat.shardsWritten).toBe(0);
    expect(heartbeat.shardBytes).toBe(0);
    expect(heartbeat.manifestBytes).toBeLessThan(8_000);
    const changed = pool('p', 10_000, 3);
    changed.members.decode[4_321] = { ...(changed.members.decode[4_321] as Member), ready: false };
    const change = await writer.publish(kv, changed, heartbeat.revision);
    expect(change.shardsWritten).toBe(1);
    expect(change.shardBytes).toBeLessThan(64_000);
    const read = await readAssembledSnapshot(kv, 'p');
    expect(read?.ok && read.snapshot.members.decode[4_321]?.ready).toBe(false);
  });

  it('the reader resolves against the view it gave last: the changes since it, and a heartbeat changes nothing', async () => {
    const kv = await openSnapshotBucket(nc, { bucket: 'shards-changes' });
    const writer = new ShardedSnapshotWriter('c');
    const reader = new ShardedSnapshotReader('c');
    const resolve = async (previous?: Snapshot) => {
      const entry = await kv.get('c');
      const value = parseStoredValue(entry?.string() ?? '');
      if (value.kind !== 'manifest') throw new Error(value.kind);
      const r = await reader.resolve(kv, value.manifest, previous);
      if (!r.ok) throw new Error(r.error);
      return r;
    };
    const first = await writer.publish(kv, pool('c', 2_000, 1), 0);
    const a = await resolve();
    expect(a.changes).toBeUndefined();
    expect(a.sum).toEqual(membershipSum(a.snapshot));
    const changed = pool('c', 2_000, 2);
    changed.members.decode[17] = { ...(changed.members.decode[17] as Member), ready: false };
    const second = await writer.publish(kv, changed, first.revision);
    const b = await resolve(a.snapshot);
    expect(encodeSnapshot(b.snapshot)).toBe(encodeSnapshot(changed));
    expect(b.sum).toEqual(membershipSum(b.snapshot));
    expect(b.changes?.removed.decode).toEqual([a.snapshot.members.decode[17]]);
    expect(b.changes?.added.decode.map((m) => m.ready)).toEqual([false]);
    await writer.publish(kv, { ...changed, seq: 3 }, second.revision);
    const c = await resolve(b.snapshot);
    expect(c.snapshot.seq).toBe(3);
    expect(c.snapshot.members).toBe(b.snapshot.members);
    expect(c.sum).toEqual(b.sum);
    expect(c.changes?.added.decode).toEqual([]);
    expect(c.changes?.removed.decode).toEqual([]);
  });

  it('a manifest whose shard is missing is incomplete, one with a wrong shard a mismatch; complete once the shard is there', async () => {
    const kv = await openSnapshotBucket(nc, { bucket: 'shards-incomplete' });
    const s = pool('q', 600);
    const { manifest, shards } = shardSnapshot(s);
    const [first, ...rest] = shards;
    for (const x of rest) await kv.put(shardKey('q', x.digest), x.raw);
    const reader = new ShardedSnapshotReader('q');
    const missing = await reader.resolve(kv, manifest);
    expect(missing).toMatchObject({ ok: false, kind: 'incomplete' });
    if (!missing.ok) expect(missing.error).toContain(shardKey('q', first?.digest ?? ''));
    // Someone writes other content under the shard's key: the digest gives it away.
    await kv.put(shardKey('q', first?.digest ?? ''), (first?.raw ?? '').replace('pod-', 'pot-'));
    expect(await reader.resolve(kv, manifest)).toMatchObject({ ok: false, kind: 'mismatch' });
    await kv.put(shardKey('q', first?.digest ?? ''), first?.raw ?? '');
    const done = await reader.resolve(kv, manifest);
    expect(done.ok).toBe(true);
    if (done.ok) expect(encodeSnapshot(done.snapshot)).toBe(encodeSnapshot(s));
  });

  it('garbage collection purges shards no manifest references, after the grace period only', async () => {
    const kv = await openSnapshotBucket(nc, { bucket: 'shards-gc' });
    let now = 1_000_000;
    const writer = new ShardedSnapshotWriter('g', { graceMs: 60_000, now: () => now });
    const a = pool('g', 300, 1);
    const r1 = await writer.publish(kv, a, 0);
    const before = await shardKeys(kv, 'g');
    const b = pool('g', 300, 2);
    b.members.decode.pop();
    await writer.publish(kv, b, r1.revision);
    const after = await shardKeys(kv, 'g');
    expect(after.length).toBe(before.length + 1);
    const stale = after.filter((k) => !shardSnapshot(b).shards.some((x) => shardKey('g', x.digest) === k));
    expect(stale.length).toBe(1);
    expect(await writer.collect(kv)).toEqual({ purged: 0, pending: 1 });
    now += 59_000;
    expect(await writer.collect(kv)).toEqual({ purged: 0, pending: 1 });
    now += 2_000;
    expect(await writer.collect(kv)).toEqual({ purged: 1, pending: 0 });
    expect(await shardKeys(kv, 'g')).toEqual(after.filter((k) => k !== stale[0]));
    // Purged without a delete marker: no message of the key is left in the stream.
    expect(await kv.get(stale[0] as string)).toBeNull();
    const read = await readAssembledSnapshot(kv, 'g');
    expect(read?.ok).toBe(true);
  });

  it('a shard removed by someone else is written again after a collection pass', async () => {
    const kv = await openSnapshotBucket(nc, { bucket: 'shards-heal' });
    const writer = new ShardedSnapshotWriter('h');
    const r1 = await writer.publish(kv, pool('h', 300, 1), 0);
    const { shards } = shardSnapshot(pool('h', 300, 1));
    await kv.purge(shardKey('h', shards[0]?.digest ?? ''));
    await writer.collect(kv);
    const r2 = await writer.publish(kv, pool('h', 300, 2), r1.revision);
    expect(r2.shardsWritten).toBe(1);
    expect((await readAssembledSnapshot(kv, 'h'))?.ok).toBe(true);
  });

  it('reads the single-value encoding too', async () => {
    const kv = await openSnapshotBucket(nc, { bucket: 'shards-legacy' });
    const s = pool('old', 3);
    await kv.put('old', encodeSnapshot(s));
    const read = await readAssembledSnapshot(kv, 'old');
    expect(read?.ok && encodeSnapshot(read.snapshot)).toBe(encodeSnapshot(s));
  });
});
