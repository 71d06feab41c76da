import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { fbiHash } from './fbi-hash.ts';
import { ConsistentHashRing, ringFingerprint } from './ring.ts';

const urlArb = fc
  .tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 0, max: 255 }), fc.constantFrom(8000, 8100, 8200))
  .map(([a, b, port]) => `http://10.${a}.${b}.7:${port}`);
const membersArb = fc.uniqueArray(urlArb, { minLength: 1, maxLength: 10 });
const keysArb = fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 60 });
// Small vnode counts keep the properties fast; the algorithm does not depend on the count.
const VNODES = 16;

function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('ConsistentHashRing', () => {
  test('members are sorted and de-duplicated; an empty ring owns nothing', () => {
    const ring = new ConsistentHashRing(['http://b:1', 'http://a:1', 'http://b:1']);
    expect(ring.members).toEqual(['http://a:1', 'http://b:1']);
    expect(ring.size).toBe(2 * 160);
    const empty = new ConsistentHashRing([]);
    expect(empty.owner('k')).toBeUndefined();
    expect(empty.walk('k')).toEqual([]);
  });

  test('refuses a bad vnode count', () => {
    expect(() => new ConsistentHashRing(['a'], { vnodes: 0 })).toThrow(RangeError);
    expect(() => new ConsistentHashRing(['a'], { vnodes: 1.5 })).toThrow(RangeError);
  });

  test('the owner is the first point at or after the key hash, wrapping around', () => {
    const ring = new ConsistentHashRing(['http://a:1', 'http://b:1'], { vnodes: 3 });
    const points = ring.members
      .flatMap((m) => [0, 1, 2].map((i) => ({ m, h: fbiHash(`${m}:${i}`) })))
      .sort((x, y) => x.h.hi - y.h.hi || x.h.lo - y.h.lo);
    for (const p of points) expect(ring.ownerOfHash(p.h)).toBe(p.m);
    const last = points[points.length - 1];
    const first = points[0];
    if (!last || !first) throw new Error('no points');
    expect(ring.ownerOfHash({ hi: 0xffffffff, lo: 0xffffffff })).toBe(first.m);
    expect(ring.ownerOfHash({ hi: 0, lo: 0 })).toBe(first.m);
  });

  test('walk starts at the owner and lists every member once', () => {
    fc.assert(
      fc.property(membersArb, keysArb, (members, keys) => {
        const ring = new ConsistentHashRing(members, { vnodes: VNODES });
        for (const key of keys) {
          const walk = ring.walk(key);
          expect(walk[0]).toBe(ring.owner(key));
          expect([...walk].sort()).toEqual([...ring.members]);
        }
      }),
      { numRuns: 50 },
    );
  });

  test('same members in any order: same owners, walks and fingerprint', () => {
    fc.assert(
      fc.property(membersArb, keysArb, fc.integer(), (members, keys, seed) => {
        const a = new ConsistentHashRing(members, { vnodes: VNODES });
        const b = new ConsistentHashRing(shuffle(members, seed), { vnodes: VNODES });
        expect(b.fingerprint).toBe(a.fingerprint);
        for (const key of keys) expect(b.walk(key)).toEqual(a.walk(key));
      }),
      { numRuns: 50 },
    );
  });

  test('removing a member moves only the keys it owned', () => {
    fc.assert(
      fc.property(
        membersArb.filter((m) => m.length >= 2),
        keysArb,
        fc.nat(),
        (members, keys, pick) => {
          const gone = members[pick % members.length] as string;
          const before = new ConsistentHashRing(members, { vnodes: VNODES });
          const after = new ConsistentHashRing(
            members.filter((m) => m !== gone),
            { vnodes: VNODES },
          );
          for (const key of keys) {
            const owner = before.owner(key);
            if (owner !== gone) expect(after.owner(key)).toBe(owner);
            // The keys of the member that left go to the next member in its walk: the failover target.
            else expect(after.owner(key)).toBe(before.walk(key)[1]);
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  test('adding a member moves keys only to it', () => {
    fc.assert(
      fc.property(membersArb, urlArb, keysArb, (members, extra, keys) => {
        fc.pre(!members.includes(extra));
        const before = new ConsistentHashRing(members, { vnodes: VNODES });
        const after = new ConsistentHashRing([...members, extra], { vnodes: VNODES });
        for (const key of keys) {
          const owner = after.owner(key);
          if (owner !== extra) expect(owner).toBe(before.owner(key));
        }
      }),
      { numRuns: 50 },
    );
  });

  test('colliding positions: the member whose name sorts first owns the point, in any order', () => {
    // fbiHash has only 2^23 - 1 values, so a few hundred members x 160 vnodes always collide somewhere.
    const seen = new Map<string, string>();
    let pair: { a: string; b: string; hi: number; lo: number } | undefined;
    for (let m = 0; m < 2000 && pair === undefined; m++) {
      const member = `http://10.7.${m >> 8}.${m & 255}:8000`;
      for (let i = 0; i < 160; i++) {
        const h = fbiHash(`${member}:${i}`);
        const id = `${h.hi}:${h.lo}`;
        const other = seen.get(id);
        if (other !== undefined && other !== member) {
          pair = { a: other, b: member, hi: h.hi, lo: h.lo };
          break;
        }
        seen.set(id, member);
      }
    }
    if (pair === undefined) throw new Error('no colliding vnode positions found among 2,000 members');
    const [first, second] = [pair.a, pair.b].sort();
    const h = { hi: pair.hi, lo: pair.lo };
    for (const order of [
      [pair.a, pair.b],
      [pair.b, pair.a],
    ]) {
      const ring = new ConsistentHashRing(order);
      expect(ring.ownerOfHash(h)).toBe(first);
      expect(ring.walkHash(h)).toEqual([first, second]);
    }
  });

  test('the fingerprint depends on members and vnodes only', () => {
    const members = ['http://10.0.0.1:8000', 'http://10.0.0.2:8000'];
    const ring = new ConsistentHashRing(members);
    expect(ring.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(ring.fingerprint).toBe(ringFingerprint([...members].reverse(), 160));
    expect(new ConsistentHashRing(members, { vnodes: 100 }).fingerprint).not.toBe(ring.fingerprint);
    expect(new ConsistentHashRing(members.slice(0, 1)).fingerprint).not.toBe(ring.fingerprint);
  });

  test('prints the load spread of 8 members x 160 vnodes over 100k random keys', () => {
    const members = Array.from({ length: 8 }, (_, i) => `http://10.2.1.${100 + i}:8000`);
    const ring = new ConsistentHashRing(members);
    const counts = new Map<string, number>(members.map((m) => [m, 0]));
    // A fixed-seed generator: random keys, but the same run every time.
    let s = 0x9e3779b9;
    const KEYS = 100_000;
    for (let i = 0; i < KEYS; i++) {
      s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + i) >>> 0;
      const owner = ring.owner(`request:${s.toString(36)}-${i}`) as string;
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
    }
    const values = [...counts.values()];
    const mean = KEYS / members.length;
    const spread = Math.max(...values) / mean;
    console.log(
      `load spread, 8 members x 160 vnodes, ${KEYS} keys: max/mean = ${spread.toFixed(3)}, min/mean = ${(Math.min(...values) / mean).toFixed(3)}`,
    );
    expect(values.reduce((a, b) => a + b, 0)).toBe(KEYS);
    expect(spread).toBeGreaterThanOrEqual(1);
  });
});
