import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { fbiHash } from './fbi-hash.ts';
import { ConsistentHashRing } from './ring.ts';
import { buildRingPoints } from './ring-points.ts';

// withMembers() must give, point for point, the ring a full build of the same members gives: the
// same positions in the same order with the same owners, ties at shared positions included.

/** Every point as `hi:lo:member`, one a line (a string compares much faster than an array of 50k). */
function points(ring: ConsistentHashRing): string {
  const out: string[] = [];
  for (let i = 0; i < ring.size; i++) {
    const p = ring.point(i);
    if (!p) throw new Error(`no point ${i}`);
    out.push(`${p.hi}:${p.lo}:${p.member}`);
  }
  return out.join('\n');
}

function expectSameRing(actual: ConsistentHashRing, members: readonly string[], vnodes: number): void {
  const full = new ConsistentHashRing(members, { vnodes });
  expect(actual.members).toEqual(full.members);
  expect(actual.size).toBe(full.size);
  expect(points(actual)).toBe(points(full));
  expect(actual.fingerprint).toBe(full.fingerprint);
}

const memberArb = fc.integer({ min: 0, max: 400 }).map((i) => `http://10.1.${i >> 8}.${i & 255}:8000`);
const setArb = fc.uniqueArray(memberArb, { maxLength: 40 });

describe('ConsistentHashRing.withMembers', () => {
  test('any sequence of membership changes matches a full build after every step', () => {
    fc.assert(
      fc.property(setArb, fc.array(setArb, { minLength: 1, maxLength: 6 }), (start, steps) => {
        let ring = new ConsistentHashRing(start, { vnodes: 8 });
        for (const members of steps) {
          ring = ring.withMembers(members);
          expectSameRing(ring, members, 8);
        }
      }),
      { numRuns: 60 },
    );
  });

  test('one member at a time over a ring whose positions collide keeps the full build order', () => {
    // 200 members x 160 vnodes share dozens of positions (fbiHash has 2^23 - 1 values).
    const members = Array.from({ length: 200 }, (_, i) => `http://10.2.${i >> 8}.${i & 255}:8000`);
    const ring = new ConsistentHashRing(members);
    const seen = new Set<string>();
    let shared = 0;
    for (let i = 0; i < ring.size; i++) {
      const p = ring.point(i);
      const id = `${p?.hi}:${p?.lo}`;
      if (seen.has(id)) shared++;
      seen.add(id);
    }
    expect(shared).toBeGreaterThan(0);
    // Every member that owns a shared position leaves and rejoins; a newcomer joins between.
    let changed = ring;
    let current = [...members];
    for (const [k, leaver] of [members[0], members[117], members[199]].entries()) {
      current = current.filter((m) => m !== leaver);
      changed = changed.withMembers(current);
      expectSameRing(changed, current, 160);
      current = [...current, `http://10.3.0.${k}:8000`, leaver as string];
      changed = changed.withMembers(current);
      expectSameRing(changed, current, 160);
    }
  });

  test('a ring grown and shrunk a member at a time re-buckets and still matches a full build', () => {
    // 4 x 64 points fit one bucket; 300 x 64 need 2^8 of them: the changes cross several bucket sizes.
    const all = Array.from({ length: 300 }, (_, i) => `http://10.5.${i >> 8}.${i & 255}:8000`);
    let ring = new ConsistentHashRing(all.slice(0, 4), { vnodes: 64 });
    for (let n = 5; n <= all.length; n++) {
      ring = ring.withMembers(all.slice(0, n));
      if (n % 37 === 0 || n === all.length) expectSameRing(ring, all.slice(0, n), 64);
    }
    for (let n = all.length - 1; n >= 3; n--) {
      ring = ring.withMembers(all.slice(all.length - n));
      if (n % 41 === 0 || n === 3) expectSameRing(ring, all.slice(all.length - n), 64);
    }
  });

  test('a ring changed twice from the same ring gives the same result both times', () => {
    const members = Array.from({ length: 50 }, (_, i) => `http://10.6.0.${i}:8000`);
    const base = new ConsistentHashRing(members, { vnodes: 32 });
    const next = [...members.slice(1), 'http://10.6.1.1:8000'];
    const first = base.withMembers(next);
    const second = base.withMembers(next);
    expect(points(second)).toBe(points(first));
    expectSameRing(first.withMembers(members), members, 32);
  });

  test('the old ring is untouched and an unchanged membership returns the same ring', () => {
    const before = new ConsistentHashRing(['http://a:1', 'http://b:1', 'http://c:1'], { vnodes: 16 });
    const snapshot = points(before);
    const after = before.withMembers(['http://a:1', 'http://c:1', 'http://d:1']);
    expect(points(before)).toBe(snapshot);
    expect(after.members).toEqual(['http://a:1', 'http://c:1', 'http://d:1']);
    expect(before.withMembers(['http://c:1', 'http://b:1', 'http://a:1'])).toBe(before);
    expect(after.withMembers([]).size).toBe(0);
    expect(new ConsistentHashRing([], { vnodes: 4 }).withMembers(['http://z:1']).owner('k')).toBe('http://z:1');
  });

  test('walks cover every member once after slots were freed and reused', () => {
    let ring = new ConsistentHashRing(['http://a:1', 'http://b:1', 'http://c:1', 'http://d:1', 'http://e:1'], {
      vnodes: 16,
    });
    ring = ring.withMembers(['http://a:1', 'http://c:1', 'http://d:1', 'http://e:1']);
    ring = ring.withMembers(['http://a:1', 'http://c:1', 'http://d:1', 'http://e:1', 'http://f:1']);
    for (const key of ['x', 'y', 'z', 'w']) expect([...ring.walk(key)].sort()).toEqual([...ring.members]);
  });

  test('a walk with a limit is the start of the whole walk', () => {
    const ring = new ConsistentHashRing(
      Array.from({ length: 40 }, (_, i) => `http://10.7.0.${i}:8000`),
      { vnodes: 160 },
    );
    for (const key of ['a', 'b', 'c']) {
      const whole = ring.walkHash(fbiHash(key));
      expect(whole).toHaveLength(40);
      for (const limit of [1, 3, 39, 40, 100])
        expect(ring.walkHash(fbiHash(key), limit)).toEqual(whole.slice(0, limit));
    }
    expect(ring.walkHash(fbiHash('a'), 0)).toEqual([]);
  });
});

describe('buildRingPoints', () => {
  test('orders points by position, then member rank, as a comparator sort does', () => {
    const members = Array.from({ length: 200 }, (_, i) => `http://10.4.${i >> 8}.${i & 255}:8000`);
    const vnodes = 160;
    const built = buildRingPoints(members, vnodes);
    const reference = members
      .flatMap((m, rank) =>
        Array.from({ length: vnodes }, (_, i) => ({ ...fbiHash(`${m}:${i}`), rank, index: rank * vnodes + i })),
      )
      .sort((x, y) => x.hi - y.hi || x.lo - y.lo || x.index - y.index);
    expect(Array.from(built.hi)).toEqual(reference.map((r) => r.hi));
    expect(Array.from(built.lo)).toEqual(reference.map((r) => r.lo));
    expect(Array.from(built.owner)).toEqual(reference.map((r) => r.rank));
  });

  test('fromPoints refuses arrays that cannot be the build of the members given', () => {
    const members = ['http://a:1', 'http://b:1'];
    const built = buildRingPoints(members, 4);
    expect(ConsistentHashRing.fromPoints(members, 4, built).owner('k')).toBe(
      new ConsistentHashRing(members, { vnodes: 4 }).owner('k'),
    );
    expect(() => ConsistentHashRing.fromPoints(members, 5, built)).toThrow(RangeError);
    expect(() => ConsistentHashRing.fromPoints(['http://b:1', 'http://a:1'], 4, built)).toThrow(RangeError);
  });
});

describe('ConsistentHashRing.withChangedMembers', () => {
  test('any sequence of known changes matches a full build after every step', () => {
    fc.assert(
      fc.property(
        setArb,
        fc.array(fc.tuple(fc.array(fc.nat(), { maxLength: 3 }), fc.uniqueArray(memberArb, { maxLength: 3 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (start, steps) => {
          let ring = new ConsistentHashRing(start, { vnodes: 8 });
          let current = [...new Set(start)];
          for (const [picks, candidates] of steps) {
            const leaving = [
              ...new Set(picks.filter(() => current.length > 0).map((p) => current[p % current.length] as string)),
            ];
            const joining = candidates.filter((m) => !current.includes(m) || leaving.includes(m));
            const next = ring.withChangedMembers(leaving, joining);
            if (next === undefined) {
              // Only a change larger than the merge limit is refused here.
              expect(leaving.length + joining.length).toBeGreaterThan(Math.max(1, current.length * 0.25));
              continue;
            }
            current = [...current.filter((m) => !leaving.includes(m)), ...joining];
            ring = next;
            expectSameRing(ring, current, 8);
          }
        },
      ),
      { numRuns: 80 },
    );
  });

  test('members that share positions leave and join one at a time in the full build order', () => {
    const members = Array.from({ length: 200 }, (_, i) => `http://10.2.${i >> 8}.${i & 255}:8000`);
    let ring = new ConsistentHashRing(members);
    let current = [...members];
    for (const [k, leaver] of [members[0], members[117], members[199]].entries()) {
      ring = ring.withChangedMembers([leaver as string], []) as ConsistentHashRing;
      current = current.filter((m) => m !== leaver);
      expectSameRing(ring, current, 160);
      const newcomer = `http://10.3.0.${k}:8000`;
      ring = ring.withChangedMembers([], [newcomer, leaver as string]) as ConsistentHashRing;
      current = [...current, newcomer, leaver as string];
      expectSameRing(ring, current, 160);
    }
    // A member leaving and joining in one change keeps its points.
    expect(ring.withChangedMembers([members[5] as string], [members[5] as string])).toBe(ring);
  });

  test('a change that is not one of this ring is refused and leaves the ring usable', () => {
    const ring = new ConsistentHashRing(['http://a:1', 'http://b:1', 'http://c:1', 'http://d:1'], { vnodes: 8 });
    expect(ring.withChangedMembers(['http://x:1'], [])).toBeUndefined();
    expect(ring.withChangedMembers([], ['http://a:1'])).toBeUndefined();
    expect(ring.withChangedMembers([], ['http://x:1', 'http://x:1'])).toBeUndefined();
    expect(ring.withChangedMembers(['http://a:1', 'http://a:1'], [])).toBeUndefined();
    // Past the merge limit (a quarter of 4 members, at least one): a full build is the caller's.
    expect(ring.withChangedMembers(['http://a:1', 'http://b:1'], [])).toBeUndefined();
    const next = ring.withChangedMembers(['http://a:1'], []);
    if (!next) throw new Error('a one-member change must merge');
    expectSameRing(next, ['http://b:1', 'http://c:1', 'http://d:1'], 8);
  });
});
