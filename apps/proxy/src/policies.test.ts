import { ConsistentHashRing, fbiHash, prefixColdHash, prefixKey } from '@pdrouter/core';
import { describe, expect, it } from 'vitest';
import { FAILOVER_WALK_LIMIT, Picker, type PodView } from './policies.ts';

const MEMBERS = ['http://10.0.0.1:8000', 'http://10.0.0.2:8000', 'http://10.0.0.3:8000', 'http://10.0.0.4:8000'];
const ring = new ConsistentHashRing(MEMBERS);

function view(inFlight: Record<string, number> = {}, ejected: string[] = []): PodView {
  return { inFlight: (u) => inFlight[u] ?? 0, signals: () => undefined, isEjected: (u) => ejected.includes(u) };
}

/** A deterministic "random" source cycling through the given values. */
function sequence(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] as number;
}

describe('consistent_hash', () => {
  const picker = new Picker('consistent_hash', { boundedLoadFactor: 1.25 });

  it('starts at the ring owner and follows the walk', () => {
    for (const key of ['a', 'session-1', 'header:x-session-id:abc']) {
      const h = fbiHash(key);
      const order = picker.order(ring, h, view());
      expect(order).toEqual(ring.walkHash(h));
      expect(order[0]).toBe(ring.ownerOfHash(h));
      expect(new Set(order).size).toBe(MEMBERS.length);
    }
  });

  it('moves ejected pods to the end without changing the others order', () => {
    const h = fbiHash('k');
    const walk = ring.walkHash(h);
    const order = picker.order(ring, h, view({}, [walk[0] as string]));
    expect(order).toEqual([...walk.slice(1), walk[0]]);
  });

  it('returns nothing for an empty ring', () => {
    expect(picker.order(new ConsistentHashRing([]), fbiHash('k'), view())).toEqual([]);
  });

  it('on a big ring: the start of the whole walk, with an ejected pod near the key still last', () => {
    const big = new ConsistentHashRing(Array.from({ length: 300 }, (_, i) => `http://10.1.${i >> 8}.${i & 255}:8000`));
    const h = fbiHash('big');
    const whole = big.walkHash(h);
    const healthy = picker.order(big, h, view());
    expect(healthy).toEqual(whole.slice(0, FAILOVER_WALK_LIMIT));
    const ejected = whole[3] as string;
    const order = picker.order(big, h, view({}, [ejected]));
    expect(order).toHaveLength(300);
    expect(order.at(-1)).toBe(ejected);
    expect(order.slice(0, 5)).toEqual([...whole.slice(0, 3), ...whole.slice(4, 6)]);
  });
});

describe('bounded_load', () => {
  const picker = new Picker('bounded_load', { boundedLoadFactor: 1.25 });

  it('takes the owner while it is under the cap', () => {
    const h = fbiHash('k');
    expect(picker.order(ring, h, view())[0]).toBe(ring.ownerOfHash(h));
  });

  it('skips an owner over the cap to the next member of the walk', () => {
    const h = fbiHash('k');
    const walk = ring.walkHash(h);
    // total 10 in flight, cap ceil(1.25 * 11 / 4) = 4: the owner at 10 is over it.
    const order = picker.order(ring, h, view({ [walk[0] as string]: 10 }));
    expect(order[0]).toBe(walk[1]);
    expect(order).toHaveLength(MEMBERS.length);
    expect(order).toContain(walk[0]);
  });
});

describe('round_robin, random, power_of_two', () => {
  it('round_robin rotates through the members', () => {
    const picker = new Picker('round_robin', { boundedLoadFactor: 1 });
    const firsts = Array.from({ length: 8 }, () => picker.order(ring, undefined, view())[0]);
    expect(firsts.slice(0, 4)).toEqual(ring.members);
    expect(firsts.slice(4)).toEqual(ring.members);
  });

  it('random starts where the random source points', () => {
    const picker = new Picker('random', { boundedLoadFactor: 1, random: sequence([0.6]) });
    expect(picker.order(ring, undefined, view())[0]).toBe(ring.members[2]);
  });

  it('power_of_two takes the less loaded of the two sampled pods', () => {
    // samples index 0 then index floor(0.5 * 3) = 1 (shifted past 0 -> 2)
    const picker = new Picker('power_of_two', { boundedLoadFactor: 1, random: sequence([0, 0.5]) });
    const [m0, , m2] = ring.members as [string, string, string, string];
    expect(picker.order(ring, undefined, view({ [m0]: 5, [m2]: 1 }))[0]).toBe(m2);
    expect(picker.order(ring, undefined, view({ [m0]: 0, [m2]: 3 }))[0]).toBe(m0);
  });

  it('power_of_two avoids an ejected pod', () => {
    const picker = new Picker('power_of_two', { boundedLoadFactor: 1, random: sequence([0, 0.5]) });
    const [m0, , m2] = ring.members as [string, string, string, string];
    const order = picker.order(ring, undefined, view({ [m2]: 50 }, [m0]));
    expect(order[0]).toBe(m2);
    expect(order.at(-1)).toBe(m0);
  });
});

describe('rendezvous_hash', () => {
  const picker = new Picker('rendezvous_hash', { boundedLoadFactor: 1.25 });
  // The score as vllm-router's policy computes it: fbi_hash("{hash_key}:{worker_url}"), as hex to compare.
  const score = (key: string, member: string) => {
    const h = fbiHash(`${key}:${member}`);
    return BigInt(h.hi) * 2n ** 32n + BigInt(h.lo);
  };

  it('tries the highest-scoring member first, then the others by falling score', () => {
    for (const key of ['request:hi', 'session:s1', 'user:u', 'header:x-session-id:abc']) {
      const order = picker.order(ring, fbiHash(key), view(), key);
      const scores = order.map((m) => score(key, m));
      expect([...scores].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0))).toEqual(scores);
      expect(new Set(order).size).toBe(MEMBERS.length);
    }
  });

  it('a member leaving moves only the keys it owned', () => {
    const fewer = new ConsistentHashRing(MEMBERS.slice(0, 3));
    let moved = 0;
    for (let i = 0; i < 400; i++) {
      const key = `session:${i}`;
      const before = picker.order(ring, fbiHash(key), view(), key)[0];
      const after = picker.order(fewer, fbiHash(key), view(), key)[0];
      if (before !== MEMBERS[3]) expect(after).toBe(before);
      else moved++;
    }
    // Every member owns some keys (near-even spread over 400 keys).
    expect(moved).toBeGreaterThan(50);
    expect(moved).toBeLessThan(150);
  });

  it('puts ejected members last', () => {
    const key = 'request:x';
    const first = picker.order(ring, fbiHash(key), view(), key)[0] as string;
    expect(picker.order(ring, fbiHash(key), view({}, [first]), key).at(-1)).toBe(first);
  });
});

describe('cache_aware and load_aware through the Picker', () => {
  const scoring = {
    cacheAware: { cacheThreshold: 0.3, balanceAbsThreshold: 64, balanceRelThreshold: 1.5 },
    loadAware: { prefix: 1, load: 1, ring: 0.3 },
    maxTreeChars: 1 << 20,
  };
  const system = 'You are a support agent for a large retailer. Answer politely. '.repeat(10);

  it("a cold prefix goes to the ring owner of the text's first block; once a pod served it, the index sends it there", () => {
    const picker = new Picker('cache_aware', { boundedLoadFactor: 1.25, scoring });
    const key = 'request:a';
    const text = prefixKey(`${system}user: one`);
    const owner = ring.walkHash(prefixColdHash(text))[0] as string;
    const first = picker.pick(ring, fbiHash(key), view(), key, text);
    expect(first.order[0]).toBe(owner);
    expect(first.decision?.reason).toBe('ring_owner');
    // Another request (another key) with the same start goes there too while that pod is no busier.
    const other = picker.pick(ring, fbiHash('request:z'), view(), 'request:z', prefixKey(`${system}user: three`));
    expect(other.order[0]).toBe(owner);
    // A busier owner: the cold prefix goes to the least loaded pod, the next of that walk on equal loads.
    const busy = view(Object.fromEntries(MEMBERS.map((m) => [m, m === owner ? 2 : 1])));
    const moved = picker.pick(ring, fbiHash(key), busy, key, text);
    expect(moved.order[0]).toBe(ring.walkHash(prefixColdHash(text))[1]);
    expect(moved.decision?.reason).toBe('least_loaded');
    // The owner failed; the request was served by another pod: that is the pod the index learns.
    const served = MEMBERS.find((m) => m !== owner) as string;
    picker.learn(prefixKey(`${system}user: one`), served);
    const next = picker.pick(ring, fbiHash('request:b'), view(), 'request:b', prefixKey(`${system}user: two`));
    expect(next.order[0]).toBe(served);
    expect(next.decision?.reason).toBe('prefix_match');
    expect(new Set(next.order).size).toBe(MEMBERS.length);
  });

  it('load_aware moves off a loaded owner; consistent_hash would not', () => {
    const picker = new Picker('load_aware', { boundedLoadFactor: 1.25, scoring });
    const key = 'request:c';
    const walk = ring.walkHash(fbiHash(key));
    const loaded = view({ [walk[0] as string]: 20 });
    expect(picker.order(ring, fbiHash(key), loaded, key)[0]).toBe(walk[1]);
    expect(new Picker('consistent_hash', { boundedLoadFactor: 1.25 }).order(ring, fbiHash(key), loaded, key)[0]).toBe(
      walk[0],
    );
  });

  it('needs scoring settings', () => {
    expect(() => new Picker('cache_aware', { boundedLoadFactor: 1.25 })).toThrow(/scoring settings/);
  });
});
