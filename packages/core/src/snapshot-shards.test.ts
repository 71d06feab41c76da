import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.ts';
import type { Member, Snapshot } from './snapshot.ts';
import { encodeSnapshot, snapshotFingerprint } from './snapshot.ts';
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
});
