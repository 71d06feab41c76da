import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.ts';
import type { Member, Snapshot } from './snapshot.ts';
import { encodeSnapshot, membershipSum, snapshotFingerprint } from './snapshot.ts';
import {
  assembleSnapshot,
  chooseShardCount,
  encodeManifest,
  parseShard,
  parseStoredValue,
  type ShardContent,
  shardIndex,
  shardSnapshot,
} from './snapshot-shards.ts';

const member = (i: number): Member => ({
  name: `pod-${i}`,
  uid: `u-${i}`,
  url: `http://10.0.${i >> 8}.${i & 255}:8000`,
  ready: true,
});

function snapshot(n: number, seq = 1): Snapshot {
  return {
    pool: 'p',
    epoch: 7,
    seq,
    time: '2026-01-01T00:00:00.000Z',
    members: {
      prefill: [{ ...member(9_999), bootstrapPort: 8998 }],
      decode: Array.from({ length: n }, (_, i) => member(i)),
      plain: [],
    },
  };
}

function contents(sharded: ReturnType<typeof shardSnapshot>): ShardContent[] {
  return sharded.shards.map((s) => {
    const r = parseShard(s.raw, s);
    if (!r.ok) throw new Error(r.error);
    return r.content;
  });
}

describe('sharded snapshot encoding', () => {
  it('shards are canonical JSON, and assemble back to the same snapshot', () => {
    const s = snapshot(3_000);
    const sharded = shardSnapshot(s);
    expect(sharded.shards.length).toBe(16);
    for (const shard of sharded.shards) expect(shard.raw).toBe(canonicalJson(JSON.parse(shard.raw)));
    expect(sharded.manifest.fingerprint).toBe(snapshotFingerprint(s));
    expect(sharded.manifest.memberCount).toBe(3_001);
    const parsed = parseStoredValue(encodeManifest(sharded.manifest));
    expect(parsed.kind).toBe('manifest');
    const assembled = assembleSnapshot(sharded.manifest, contents(sharded));
    expect(assembled.ok && encodeSnapshot(assembled.snapshot)).toBe(encodeSnapshot(s));
  });

  it('a one-pod change changes one shard; a heartbeat none', () => {
    const before = shardSnapshot(snapshot(10_000));
    const changed = snapshot(10_000, 2);
    changed.members.decode[42] = { ...(changed.members.decode[42] as Member), ready: false };
    const after = shardSnapshot(changed, before.shards.length);
    const differing = after.shards.filter((s, i) => s.digest !== before.shards[i]?.digest);
    expect(differing).toHaveLength(1);
    expect(after.shards.indexOf(differing[0] as never)).toBe(shardIndex('decode', 'pod-42', before.shards.length));
    const heartbeat = shardSnapshot(snapshot(10_000, 3), before.shards.length);
    expect(heartbeat.shards.map((s) => s.digest)).toEqual(before.shards.map((s) => s.digest));
  });

  it('keeps the shard count within its band, and changes it only past the band', () => {
    expect(chooseShardCount(0)).toBe(1);
    expect(chooseShardCount(10_000)).toBe(64);
    expect(chooseShardCount(10_000 + 1, 64)).toBe(64);
    expect(chooseShardCount(64 * 512, 64)).toBe(64);
    expect(chooseShardCount(64 * 512 + 1, 64)).toBe(256);
    expect(chooseShardCount(64 * 64 - 1, 64)).toBe(16);
    expect(chooseShardCount(5, 3)).toBe(1);
  });

  it('refuses malformed manifests and shards with precise errors', () => {
    const sharded = shardSnapshot(snapshot(10));
    const m = sharded.manifest;
    const bad = (v: unknown) => parseStoredValue(JSON.stringify(v));
    expect(bad({ ...m, extra: 1 })).toMatchObject({
      kind: 'invalid',
      error: expect.stringMatching(/unknown field "extra"/),
    });
    expect(bad({ ...m, memberCount: 3 })).toMatchObject({
      kind: 'invalid',
      error: expect.stringMatching(/memberCount/),
    });
    expect(bad({ ...m, shards: [] })).toMatchObject({ kind: 'invalid' });
    expect(bad({ ...m, pool: 'a b' })).toMatchObject({ kind: 'invalid', error: expect.stringMatching(/pool/) });
    expect(bad({ ...m, shards: [{ ...m.shards[0], digest: 'xyz' }] })).toMatchObject({ kind: 'invalid' });
    expect(parseStoredValue(encodeSnapshot(snapshot(2))).kind).toBe('snapshot');
    const shard = sharded.shards[0];
    if (shard === undefined) throw new Error('no shard');
    expect(parseShard(shard.raw.replace('pod-', 'pot-'), shard)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/digest/),
    });
    // A member placed in the wrong shard, or a fingerprint of another membership, is a mismatch.
    const moved = contents(sharded);
    const assembledOther = assembleSnapshot({ ...m, fingerprint: '0000000000000000' }, moved);
    expect(assembledOther).toMatchObject({ ok: false, mismatch: true });
  });

  it('assembled against the previous view: its changes, the sum moved by them, placement hashed only where shards changed', () => {
    const first = shardSnapshot(snapshot(3_000));
    const base = assembleSnapshot(first.manifest, contents(first));
    if (!base.ok) throw new Error(base.error);
    expect(base.sum).toEqual(membershipSum(base.snapshot));
    const changed = snapshot(3_000, 2);
    changed.members.decode.splice(7, 1);
    changed.members.decode.push(member(5_000));
    const next = shardSnapshot(changed, first.shards.length);
    const placed = next.manifest.shards.map((r, i) => r.digest === first.manifest.shards[i]?.digest);
    expect(placed.filter((p) => !p).length).toBeLessThanOrEqual(2);
    const a = assembleSnapshot(next.manifest, contents(next), base.snapshot, { previousSum: base.sum, placed });
    if (!a.ok) throw new Error(a.error);
    expect(encodeSnapshot(a.snapshot)).toBe(encodeSnapshot(changed));
    expect(a.sum).toEqual(membershipSum(a.snapshot));
    expect(a.changes?.removed.decode.map((m) => m.name)).toEqual(['pod-7']);
    expect(a.changes?.added.decode.map((m) => m.name)).toEqual(['pod-5000']);
    // Every member not added is the previous view's object.
    const previous = new Set(base.snapshot.members.decode);
    expect(a.snapshot.members.decode.filter((m) => !previous.has(m)).map((m) => m.name)).toEqual(['pod-5000']);
    // A member in the wrong shard is found in a shard that changed...
    const wrong = contents(next);
    const changedAt = placed.indexOf(false);
    const otherAt = (changedAt + 1) % wrong.length;
    const stray = (wrong[otherAt] as ShardContent).members.decode[0];
    const moved = wrong.map((c, i) =>
      i === changedAt ? { members: { ...c.members, decode: [...c.members.decode, stray] } } : c,
    );
    expect(assembleSnapshot(next.manifest, moved, base.snapshot, { previousSum: base.sum, placed })).toMatchObject({
      ok: false,
      mismatch: true,
      error: expect.stringMatching(/belongs in another shard/),
    });
    // ...and a wrong previous sum gives a fingerprint that is not the manifest's.
    expect(
      assembleSnapshot(next.manifest, contents(next), base.snapshot, {
        previousSum: { ...base.sum, lo: base.sum.lo ^ 1 },
        placed,
      }),
    ).toMatchObject({ ok: false, mismatch: true, error: expect.stringMatching(/fingerprint/) });
  });
});

describe('shardSnapshot with a cache', () => {
  const strip = (x: ReturnType<typeof shardSnapshot>) => ({
    manifest: x.manifest,
    shards: x.shards.map((s) => ({ ...s })),
  });

  it('gives what it gives without one, reusing only the shards whose members did not change', () => {
    const cache = { count: 0, parts: [] };
    const s = snapshot(2_000);
    const first = shardSnapshot(s, undefined, cache);
    expect(strip(first)).toEqual(strip(shardSnapshot(s)));
    const count = first.shards.length;
    expect(count).toBeGreaterThan(1);

    // One pod changes (a new object, as discovery maps a replaced pod): one shard is encoded again.
    const decode = [...s.members.decode];
    decode[5] = { ...(decode[5] as Member), uid: 'u-5-restarted' };
    const next: Snapshot = { ...s, seq: 2, members: { ...s.members, decode } };
    const second = shardSnapshot(next, count, cache);
    expect(strip(second)).toEqual(strip(shardSnapshot(next, count)));
    const changed = shardIndex('decode', 'pod-5', count);
    second.shards.forEach((shard, i) => {
      if (i === changed) expect(shard).not.toBe(first.shards[i]);
      else expect(shard).toBe(first.shards[i]);
    });

    // A member changed in place is encoded again, not taken from the cache.
    (decode[7] as Member).url = 'http://10.9.9.9:8000';
    const third = shardSnapshot(next, count, cache);
    expect(strip(third)).toEqual(strip(shardSnapshot(next, count)));
    expect(third.shards[shardIndex('decode', 'pod-7', count)]?.raw).toContain('10.9.9.9');

    // Another shard count: every shard afresh, still the same as without the cache.
    const doubled = shardSnapshot(next, count * 2, cache);
    expect(strip(doubled)).toEqual(strip(shardSnapshot(next, count * 2)));
    expect(strip(shardSnapshot(next, count, cache))).toEqual(strip(shardSnapshot(next, count)));
  });

  it('orders members by name whatever the order given, as without a cache', () => {
    const s = snapshot(600);
    const shuffled: Snapshot = { ...s, members: { ...s.members, decode: [...s.members.decode].reverse() } };
    const cache = { count: 0, parts: [] };
    expect(strip(shardSnapshot(shuffled, undefined, cache))).toEqual(strip(shardSnapshot(s)));
  });
});
