import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { canonicalJson } from './canonical-json.ts';
import { murmur64a } from './murmur64a.ts';
import {
  fingerprintOfSum,
  type Member,
  membershipSum,
  membershipSumAfter,
  type Snapshot,
  snapshotFingerprint,
} from './snapshot.ts';
import { type ParseSnapshotResult, parseSnapshot } from './snapshot-parse.ts';
import { u64ToHex } from './u64.ts';

// parseSnapshot's `previous` and snapshotFingerprint's per-member cache are shortcuts: with them the
// results must be exactly those of the plain definitions.

const memberArb = fc.record(
  {
    name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
    uid: fc.constantFrom('u1', 'u2'),
    url: fc.constantFrom('http://10.0.0.1:8000', 'http://10.0.0.2:8000', 'http://10.0.0.3:8000', 'http://x/'),
    ready: fc.boolean(),
    bootstrapPort: fc.constantFrom(8998, 0),
    dpRank: fc.constantFrom(0, 1),
  },
  { requiredKeys: ['name', 'uid', 'url', 'ready'] },
);
const roleArb = fc.uniqueArray(memberArb, { selector: (m) => m.name, maxLength: 5 });
const snapshotArb = fc.record({
  pool: fc.constant('default'),
  epoch: fc.constant(1),
  seq: fc.nat(),
  time: fc.constant('2026-01-01T00:00:00.000Z'),
  members: fc.record({ prefill: roleArb, decode: roleArb, plain: roleArb }),
});

/**
 * The fingerprint as specified, in BigInt: murmur64a over the little-endian words (tag, count, S),
 * S = the sum mod 2^64 of murmur64a(`${role}\n${canonical JSON}`) over every member.
 */
function referenceFingerprint(s: Snapshot): string {
  const encoder = new TextEncoder();
  let sum = 0n;
  let count = 0;
  for (const role of ['prefill', 'decode', 'plain'] as const) {
    for (const m of s.members[role]) {
      const h = murmur64a(encoder.encode(`${role}\n${canonicalJson(m)}`));
      sum = (sum + ((BigInt(h.hi) << 32n) | BigInt(h.lo))) & 0xffff_ffff_ffff_ffffn;
      count++;
    }
  }
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x70647232, true);
  view.setUint32(4, count, true);
  view.setUint32(8, Number(sum >> 32n), true);
  view.setUint32(12, Number(sum & 0xffff_ffffn), true);
  return u64ToHex(murmur64a(bytes));
}

function withoutChanges(r: ParseSnapshotResult): ParseSnapshotResult {
  return r.ok ? { ok: true, snapshot: r.snapshot } : r;
}

type Edit =
  | { kind: 'remove'; at: number }
  | { kind: 'add'; name: number; url: number; ready: boolean }
  | { kind: 'flip'; at: number }
  | { kind: 'url'; at: number; url: number }
  | { kind: 'uid'; at: number };

// Names and URLs from small pools, so an edit often clashes with a member that stays.
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(40) }),
  fc.record({ kind: fc.constant('add' as const), name: fc.nat(40), url: fc.nat(40), ready: fc.boolean() }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(40) }),
  fc.record({ kind: fc.constant('url' as const), at: fc.nat(40), url: fc.nat(40) }),
  fc.record({ kind: fc.constant('uid' as const), at: fc.nat(40) }),
);

function applyEdit(members: Record<string, unknown>[], edit: Edit, k: number): Record<string, unknown>[] {
  const out = members.map((m) => ({ ...m }));
  const at = out.length === 0 ? 0 : ('at' in edit ? edit.at : 0) % out.length;
  const target = out[at];
  if (edit.kind === 'add') {
    out.push({ name: `m${edit.name}`, uid: `u${k}`, url: `http://10.0.0.${edit.url}:8000`, ready: edit.ready });
  } else if (target === undefined) return out;
  else if (edit.kind === 'remove') out.splice(at, 1);
  else if (edit.kind === 'flip') target.ready = !target.ready;
  else if (edit.kind === 'url') target.url = `http://10.0.0.${edit.url}:8000`;
  else target.uid = `u${k}-new`;
  return out;
}

describe('parseSnapshot changes against a previous snapshot', () => {
  test('a chain of small edits: every result is parsing alone, and the changes and sum are exact', () => {
    let refusedTotal = 0;
    let acceptedTotal = 0;
    fc.assert(
      fc.property(fc.array(fc.array(editArb, { minLength: 1, maxLength: 3 }), { maxLength: 12 }), (steps) => {
        // 20 members, so a step of up to three edits stays under the share the indexed check takes.
        let raw = Array.from({ length: 20 }, (_, i) => ({
          name: `m${i}`,
          uid: `u${i}`,
          url: `http://10.0.0.${i}:8000`,
          ready: true,
        })) as Record<string, unknown>[];
        const wire = (members: Record<string, unknown>[], seq: number) =>
          JSON.parse(
            JSON.stringify({
              pool: 'default',
              epoch: 1,
              seq,
              time: '2026-01-01T00:00:00.000Z',
              members: { prefill: [], decode: members, plain: [] },
            }),
          );
        const first = parseSnapshot(wire(raw, 1));
        if (!first.ok) throw new Error(first.error);
        let previous = first.snapshot;
        let sum = membershipSum(previous);
        let refused = 0;
        steps.forEach((edits, k) => {
          const next = edits.reduce((members, edit) => applyEdit(members, edit, k), raw);
          const r = parseSnapshot(wire(next, k + 2), { previous });
          expect(withoutChanges(r)).toEqual(parseSnapshot(wire(next, k + 2)));
          if (!r.ok) {
            refused++;
            return;
          }
          raw = next;
          const changes = r.changes;
          if (!changes) throw new Error('no changes with a previous snapshot');
          const old = new Set<Member>(previous.members.decode);
          const now = new Set<Member>(r.snapshot.members.decode);
          expect(changes.added.decode).toEqual(r.snapshot.members.decode.filter((m) => !old.has(m)));
          expect(changes.removed.decode).toEqual(previous.members.decode.filter((m) => !now.has(m)));
          sum = membershipSumAfter(sum, changes);
          expect(fingerprintOfSum(sum)).toBe(snapshotFingerprint(r.snapshot));
          previous = r.snapshot;
        });
        refusedTotal += refused;
        acceptedTotal += steps.length - refused;
      }),
      { numRuns: 150 },
    );
    // Both outcomes were exercised: clashes refused, and changes taken.
    expect(refusedTotal).toBeGreaterThan(0);
    expect(acceptedTotal).toBeGreaterThan(0);
  });
});

describe('parseSnapshot with a previous snapshot', () => {
  test('gives the result (or the error) parsing alone gives', () => {
    fc.assert(
      fc.property(snapshotArb, snapshotArb, (first, second) => {
        const previous = parseSnapshot(first);
        fc.pre(previous.ok);
        if (!previous.ok) return;
        const candidate = JSON.parse(JSON.stringify(second));
        expect(withoutChanges(parseSnapshot(candidate, { previous: previous.snapshot }))).toEqual(
          parseSnapshot(candidate),
        );
      }),
      { numRuns: 100 },
    );
  });

  test('a member equal to a previous one but for an extra key is still refused', () => {
    const first = parseSnapshot({
      pool: 'default',
      epoch: 1,
      seq: 1,
      time: '2026-01-01T00:00:00.000Z',
      members: { prefill: [{ name: 'p', uid: 'u', url: 'http://10.0.0.1:8000', ready: true }], decode: [] },
    });
    if (!first.ok) throw new Error(first.error);
    const extra = { name: 'p', uid: 'u', url: 'http://10.0.0.1:8000', ready: true, weight: 3 };
    const r = parseSnapshot(
      { ...first.snapshot, seq: 2, members: { prefill: [extra], decode: [] } },
      { previous: first.snapshot },
    );
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) expect(r.error).toContain('unknown field "weight"');
    // Two entries equal to the same previous member are a duplicate, as without a previous snapshot.
    const twice = { prefill: [first.snapshot.members.prefill[0], first.snapshot.members.prefill[0]], decode: [] };
    const dup = parseSnapshot({ ...first.snapshot, seq: 3, members: twice }, { previous: first.snapshot });
    expect(dup).toMatchObject({ ok: false });
    if (!dup.ok) expect(dup.error).toContain('duplicate member "p"');
  });
});

describe('parseSnapshot with a previous snapshot in another order', () => {
  test('members found past the cursor (through the index built after 16 misses) are reused', () => {
    const member = (i: number): Member => ({
      name: `pod-${String(i).padStart(4, '0')}`,
      uid: `u-${i}`,
      url: `http://10.0.${i >> 8}.${i & 255}:8000`,
      ready: true,
    });
    const raw = (seq: number, ids: number[]) => ({
      pool: 'default',
      epoch: 1,
      seq,
      time: '2026-01-01T00:00:00.000Z',
      members: { prefill: [], decode: ids.map(member), plain: [] },
    });
    const ids = Array.from({ length: 3_000 }, (_, i) => i);
    const first = parseSnapshot(raw(1, ids));
    if (!first.ok) throw new Error(first.error);
    // Reversed, one member gone and one new: the cursor misses at once, so nearly every lookup is indexed.
    const next = [...ids.slice(1).reverse(), 5_000];
    const again = parseSnapshot(raw(2, next), { previous: first.snapshot });
    if (!again.ok) throw new Error(again.error);
    // The 16 misses before the index are validated afresh: each is in both lists, as a pod that left
    // and came back unchanged; beyond them the change is exact.
    const added = new Set(again.changes?.added.decode.map((m) => m.name));
    const removed = new Set(again.changes?.removed.decode.map((m) => m.name));
    expect([...added].filter((n) => !removed.has(n))).toEqual(['pod-5000']);
    expect([...removed].filter((n) => !added.has(n))).toEqual(['pod-0000']);
    expect(added.size).toBe(17);
    const before = new Map(first.snapshot.members.decode.map((m) => [m.name, m]));
    const reused = again.snapshot.members.decode.filter((m) => before.get(m.name) === m);
    expect(reused).toHaveLength(2_999 - 16);
    const alone = parseSnapshot(raw(2, next));
    expect(alone.ok && alone.snapshot).toEqual(again.snapshot);
  });
});

describe('snapshotFingerprint', () => {
  test('equals its definition, members in any order, changed in place or not', () => {
    fc.assert(
      fc.property(snapshotArb, fc.boolean(), (s, mutate) => {
        const snapshot = s as Snapshot;
        expect(snapshotFingerprint(snapshot)).toBe(referenceFingerprint(snapshot));
        const victim = snapshot.members.decode[0];
        if (mutate && victim) {
          // A member edited after its text was cached: the cache must not answer for it.
          victim.ready = !victim.ready;
          (victim as unknown as Record<string, unknown>).extra = 1;
        }
        snapshot.members.prefill.reverse();
        expect(snapshotFingerprint(snapshot)).toBe(referenceFingerprint(snapshot));
      }),
      { numRuns: 100 },
    );
  });
});
