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

describe('assembled from the shards that changed (previousContents)', () => {
  /** A small deterministic generator, so a failure names its seed. */
  function random(seed: number): () => number {
    let x = seed >>> 0 || 1;
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
  }

  function base(n: number) {
    const s = snapshot(n);
    s.members.plain = [member(20_000)];
    const sharded = shardSnapshot(s);
    const c = contents(sharded);
    const parsed = assembleSnapshot(sharded.manifest, c);
    if (!parsed.ok) throw new Error(parsed.error);
    return { sharded, contents: c, parsed };
  }

  /** Both ways of assembling `next` against `b`: from all its members, and from the changed shards only. */
  function both(b: ReturnType<typeof base>, next: ReturnType<typeof shardSnapshot>, nextContents = contents(next)) {
    const placed = next.manifest.shards.map((r, i) => r.digest === b.sharded.manifest.shards[i]?.digest);
    const options = { previousSum: b.parsed.ok ? b.parsed.sum : undefined, placed };
    const full = assembleSnapshot(next.manifest, nextContents, b.parsed.snapshot, { ...options });
    const fast = assembleSnapshot(next.manifest, nextContents, b.parsed.snapshot, {
      ...options,
      previousContents: b.contents,
    });
    return { full, fast, placed };
  }

  const names = (ms: readonly Member[]) => ms.map((m) => m.name);

  it('gives what assembling every member gives, for random changes', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = random(seed);
      const b = base(1_500);
      const s = structuredClone(b.parsed.snapshot);
      const changes = 1 + Math.floor(rnd() * (seed % 10 === 0 ? 200 : 4));
      for (let k = 0; k < changes; k++) {
        const decode = s.members.decode;
        const at = Math.floor(rnd() * decode.length);
        const op = Math.floor(rnd() * 5);
        if (op === 0) decode.splice(at, 1);
        else if (op === 1) decode.push(member(30_000 + seed * 100 + k));
        else if (op === 2) decode[at] = { ...(decode[at] as Member), ready: !(decode[at] as Member).ready };
        else if (op === 3) decode[at] = { ...(decode[at] as Member), uid: `u-new-${k}` };
        else s.members.prefill.push({ ...member(40_000 + seed * 100 + k), bootstrapPort: 8998 });
      }
      s.seq = 2;
      const next = shardSnapshot(s, b.sharded.shards.length);
      const { full, fast, placed } = both(b, next);
      if (!full.ok || !fast.ok)
        throw new Error(`seed ${seed}: ${!full.ok ? full.error : ''} ${!fast.ok ? fast.error : ''}`);
      expect(
        placed.some((p) => !p),
        `seed ${seed}`,
      ).toBe(true);
      expect(encodeSnapshot(fast.snapshot), `seed ${seed}`).toBe(encodeSnapshot(full.snapshot));
      expect(encodeSnapshot(fast.snapshot), `seed ${seed}`).toBe(encodeSnapshot(s));
      expect(fast.sum, `seed ${seed}`).toEqual(full.sum);
      // From the changed shards indeed: the role no change touched is the previous array itself.
      expect(fast.snapshot.members.plain, `seed ${seed}`).toBe(b.parsed.snapshot.members.plain);
      for (const role of ['prefill', 'decode', 'plain'] as const) {
        expect(names(fast.changes?.added[role] ?? []), `seed ${seed} ${role}`).toEqual(
          names(full.changes?.added[role] ?? []),
        );
        expect(names(fast.changes?.removed[role] ?? []), `seed ${seed} ${role}`).toEqual(
          names(full.changes?.removed[role] ?? []),
        );
        // Every member not added is the previous view's object.
        const added = new Set(fast.changes?.added[role]);
        const previous = new Set(b.parsed.snapshot.members[role]);
        expect(
          fast.snapshot.members[role].every((m) => added.has(m) || previous.has(m)),
          `seed ${seed} ${role}`,
        ).toBe(true);
      }
    }
  });

  it('a role no shard change touches keeps its array', () => {
    const b = base(1_000);
    const s = structuredClone(b.parsed.snapshot);
    s.members.decode = s.members.decode.filter((m) => m.name !== 'pod-3');
    const { fast } = both(b, shardSnapshot(s, b.sharded.shards.length));
    if (!fast.ok) throw new Error(fast.error);
    expect(fast.snapshot.members.plain).toBe(b.parsed.snapshot.members.plain);
    expect(fast.snapshot.members.prefill).toBe(b.parsed.snapshot.members.prefill);
    expect(fast.changes?.removed.decode.map((m) => m.name)).toEqual(['pod-3']);
  });

  it('refuses what the whole parse refuses, with its error: a clash, an invalid joiner, a twice-named member, a stray', () => {
    const cases: [string, (s: Snapshot) => void][] = [
      ['URL of a member in another shard', (s) => s.members.decode.push({ ...member(50_000), url: member(5).url })],
      ['invalid URL', (s) => s.members.decode.push({ ...member(50_001), url: 'http://x/path' })],
      ['unknown field', (s) => s.members.decode.push({ ...member(50_002), zone: 'a' } as Member)],
      ['a name twice', (s) => s.members.decode.push({ ...member(7), uid: 'other' })],
      [
        'a ring key twice among joiners',
        (s) => s.members.decode.push(member(50_003), { ...member(50_004), url: member(50_003).url }),
      ],
    ];
    for (const [what, change] of cases) {
      const b = base(1_000);
      const s = structuredClone(b.parsed.snapshot);
      change(s);
      const { full, fast } = both(b, shardSnapshot(s, b.sharded.shards.length));
      expect(full.ok, what).toBe(false);
      expect(fast, what).toEqual(full);
      // The previous view still assembles its next change from the changed shards.
      const fine = structuredClone(b.parsed.snapshot);
      fine.members.decode.splice(1, 1);
      const after = both(b, shardSnapshot(fine, b.sharded.shards.length));
      expect(after.fast.ok && encodeSnapshot(after.fast.snapshot), what).toBe(encodeSnapshot(fine));
      expect(after.fast.ok && after.fast.snapshot.members.plain, what).toBe(b.parsed.snapshot.members.plain);
    }
    const b = base(1_000);
    const s = structuredClone(b.parsed.snapshot);
    s.members.decode.splice(2, 1);
    const next = shardSnapshot(s, b.sharded.shards.length);
    const c = contents(next);
    const { placed } = both(b, next);
    const at = placed.indexOf(false);
    const other = c[(at + 1) % c.length] as ShardContent;
    const stray = {
      members: {
        ...(c[at] as ShardContent).members,
        decode: [...(c[at] as ShardContent).members.decode, other.members.decode[0]],
      },
    };
    const moved = c.map((x, i) => (i === at ? stray : x));
    const { full, fast } = both(b, next, moved);
    expect(full).toMatchObject({ ok: false, mismatch: true, error: expect.stringMatching(/belongs in another shard/) });
    expect(fast).toEqual(full);
  });
});
