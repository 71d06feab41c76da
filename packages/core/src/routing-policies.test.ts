import { describe, expect, test } from 'vitest';
import type { LoadView, PodSignals } from './pod-signals.ts';
import { PrefixIndex, prefixKey } from './prefix-index.ts';
import {
  type CacheAwareOptions,
  cacheAwareDecision,
  DEFAULT_LOAD_AWARE_WEIGHTS,
  isImbalanced,
  loadAwareDecision,
} from './routing-policies.ts';

function loadView(inFlight: Record<string, number>, signals: Record<string, PodSignals> = {}): LoadView {
  return { inFlight: (u) => inFlight[u] ?? 0, signals: (u) => signals[u] };
}

const VLLM_ROUTER_DEFAULTS: CacheAwareOptions = {
  cacheThreshold: 0.3,
  balanceAbsThreshold: 64,
  balanceRelThreshold: 1.5,
};
const walk = ['a', 'b', 'c', 'd'];
const prefix = (matched: Record<string, number>, chars: number) => ({
  matched: new Map(Object.entries(matched)),
  chars,
});

describe('isImbalanced (vllm-router: max - min > abs AND max > rel x min)', () => {
  test('needs both conditions, strictly', () => {
    const o = { cacheThreshold: 0.3, balanceAbsThreshold: 10, balanceRelThreshold: 2 };
    expect(isImbalanced([0, 11], o)).toBe(true);
    expect(isImbalanced([0, 10], o)).toBe(false); // difference not above abs
    expect(isImbalanced([20, 40], o)).toBe(false); // 40 is not above 2 x 20
    expect(isImbalanced([20, 41], o)).toBe(true);
    expect(isImbalanced([100, 150], o)).toBe(false); // difference 50 > 10 but 150 < 200
    expect(isImbalanced([], o)).toBe(false);
  });
});

describe('cache_aware', () => {
  test('a match above --cache-threshold goes to the pod holding it', () => {
    const d = cacheAwareDecision(
      { walk, load: loadView({}), prefix: prefix({ c: 80, b: 20 }, 100) },
      VLLM_ROUTER_DEFAULTS,
    );
    expect(d.winner).toBe('c');
    expect(d.reason).toBe('prefix_match');
    expect(d.order).toEqual(['c', 'a', 'b', 'd']);
    expect(d.why()).toMatch(/80\/100/);
  });

  test('a match at or below the threshold is cold: the least loaded pod, equal loads to the ring owner', () => {
    const d = cacheAwareDecision(
      { walk, load: loadView({ a: 3, b: 1, c: 1, d: 2 }), prefix: prefix({ c: 30 }, 100) },
      VLLM_ROUTER_DEFAULTS,
    );
    // b and c tie at 1: b is earlier in the walk.
    expect(d.winner).toBe('b');
    expect(d.reason).toBe('least_loaded');
    expect(d.why()).toMatch(/not above --cache-threshold 0.3: least loaded/);
    const cold = cacheAwareDecision({ walk, load: loadView({}) }, VLLM_ROUTER_DEFAULTS);
    expect(cold.winner).toBe('a');
    expect(cold.reason).toBe('ring_owner');
    // An owner as loaded as its neighbours keeps the cold prefix.
    const even = cacheAwareDecision({ walk, load: loadView({ a: 2, b: 2, c: 2, d: 2 }) }, VLLM_ROUTER_DEFAULTS);
    expect(even.winner).toBe('a');
    expect(even.reason).toBe('ring_owner');
  });

  test("the cold path breaks equal loads by the walk (the proxy walks from the text's first block)", () => {
    const cold = ['c', 'a', 'd', 'b'];
    const idle = cacheAwareDecision({ walk: cold, load: loadView({}) }, VLLM_ROUTER_DEFAULTS);
    expect(idle.winner).toBe('c');
    expect(idle.reason).toBe('ring_owner');
    expect(idle.order).toEqual(['c', 'a', 'd', 'b']);
    // c busy: the pod with the shortest queue, wherever it is in the walk.
    const busy = cacheAwareDecision({ walk: cold, load: loadView({ c: 2, a: 1, d: 1 }) }, VLLM_ROUTER_DEFAULTS);
    expect(busy.winner).toBe('b');
    expect(busy.reason).toBe('least_loaded');
    // Equal shortest queues: the earlier in the walk.
    const tie = cacheAwareDecision({ walk: cold, load: loadView({ c: 2, a: 1, d: 1, b: 1 }) }, VLLM_ROUTER_DEFAULTS);
    expect(tie.winner).toBe('a');
    expect(tie.reason).toBe('least_loaded');
    // An ejected owner: the first kept pod of the walk is the owner now.
    const ejected = cacheAwareDecision(
      { walk: cold, load: loadView({}), filters: { isEjected: (u) => u === 'c' } },
      VLLM_ROUTER_DEFAULTS,
    );
    expect(ejected.winner).toBe('a');
    expect(ejected.reason).toBe('ring_owner');
  });

  test("equal matches on equal queues are shared between the pods holding them by the text's spread", () => {
    const m = (spread: number) => ({
      matched: new Map([
        ['b', 90],
        ['d', 90],
      ]),
      chars: 100,
      spread,
    });
    const winners = [0, 1, 2, 3].map(
      (spread) => cacheAwareDecision({ walk, load: loadView({}), prefix: m(spread) }, VLLM_ROUTER_DEFAULTS).winner,
    );
    expect(winners).toEqual(['b', 'd', 'b', 'd']);
    // A shorter queue still wins over the spread.
    expect(cacheAwareDecision({ walk, load: loadView({ b: 1 }), prefix: m(0) }, VLLM_ROUTER_DEFAULTS).winner).toBe('d');
  });

  test('equal prefix matches go to the less loaded pod, then the earlier in the walk', () => {
    const m = prefix({ d: 90, b: 90, c: 40 }, 100);
    expect(cacheAwareDecision({ walk, load: loadView({ b: 3, d: 1 }), prefix: m }, VLLM_ROUTER_DEFAULTS).winner).toBe(
      'd',
    );
    expect(cacheAwareDecision({ walk, load: loadView({ b: 1, d: 1 }), prefix: m }, VLLM_ROUTER_DEFAULTS).winner).toBe(
      'b',
    );
    // A longer match wins over a less loaded shorter one.
    const longer = prefix({ d: 95, b: 90 }, 100);
    expect(cacheAwareDecision({ walk, load: loadView({ d: 9 }), prefix: longer }, VLLM_ROUTER_DEFAULTS).winner).toBe(
      'd',
    );
  });

  test('deterministic: equal inputs give the same decision, whatever order the matches were found in', () => {
    const load = loadView({ a: 2, b: 1, c: 1, d: 0 });
    const one = cacheAwareDecision({ walk, load, prefix: prefix({ b: 90, c: 90 }, 100) }, VLLM_ROUTER_DEFAULTS);
    const two = cacheAwareDecision({ walk, load, prefix: prefix({ c: 90, b: 90 }, 100) }, VLLM_ROUTER_DEFAULTS);
    expect(two.winner).toBe(one.winner);
    expect(two.order).toEqual(one.order);
    expect(two.reason).toBe(one.reason);
    const coldOne = cacheAwareDecision({ walk, load }, VLLM_ROUTER_DEFAULTS);
    const coldTwo = cacheAwareDecision({ walk, load }, VLLM_ROUTER_DEFAULTS);
    expect(coldOne.winner).toBe('d');
    expect(coldTwo.order).toEqual(coldOne.order);
  });

  test('an imbalanced fleet goes to the least loaded pod even with a match', () => {
    const load = loadView({ a: 0, b: 70, c: 100, d: 1 });
    const d = cacheAwareDecision({ walk, load, prefix: prefix({ c: 100 }, 100) }, VLLM_ROUTER_DEFAULTS);
    expect(d.winner).toBe('a');
    expect(d.reason).toBe('least_loaded');
    // Same spread, but under the absolute threshold: the match wins.
    const calm = cacheAwareDecision(
      { walk, load: loadView({ a: 0, b: 30, c: 60, d: 1 }), prefix: prefix({ c: 100 }, 100) },
      VLLM_ROUTER_DEFAULTS,
    );
    expect(calm.winner).toBe('c');
    // Above the absolute threshold but not the relative one: the match wins.
    const busy = cacheAwareDecision(
      { walk, load: loadView({ a: 200, b: 220, c: 280, d: 250 }), prefix: prefix({ c: 100 }, 100) },
      VLLM_ROUTER_DEFAULTS,
    );
    expect(busy.winner).toBe('c');
  });

  test('the pod queue the pods report counts as load', () => {
    const load = loadView({}, { c: { waiting: 90, running: 10, kvCacheUsage: undefined } });
    const d = cacheAwareDecision({ walk, load, prefix: prefix({ c: 100 }, 100) }, VLLM_ROUTER_DEFAULTS);
    expect(d.winner).toBe('a');
    expect(d.reason).toBe('least_loaded');
  });

  test('ejected pods are filtered: the next in walk order acts as owner; all filtered keeps the walk', () => {
    const isEjected = (u: string) => u === 'a' || u === 'c';
    const d = cacheAwareDecision(
      { walk, load: loadView({}), filters: { isEjected }, prefix: prefix({ c: 100 }, 100) },
      VLLM_ROUTER_DEFAULTS,
    );
    expect(d.winner).toBe('b');
    expect(d.order).toEqual(['b', 'd', 'a', 'c']);
    expect(d.dropped.map((x) => x.url)).toEqual(['a', 'c']);
    const none = cacheAwareDecision(
      { walk, load: loadView({}), filters: { isEjected: () => true } },
      VLLM_ROUTER_DEFAULTS,
    );
    expect(none.reason).toBe('all_filtered');
    expect(none.order).toEqual(walk);
    expect(cacheAwareDecision({ walk: [], load: loadView({}) }, VLLM_ROUTER_DEFAULTS).reason).toBe('no_pods');
  });

  test('deterministic: equal prefix matches go to the earlier pod in the walk', () => {
    const d = cacheAwareDecision(
      { walk, load: loadView({}), prefix: prefix({ d: 90, b: 90 }, 100) },
      VLLM_ROUTER_DEFAULTS,
    );
    expect(d.winner).toBe('b');
  });

  test('end to end with the index: a long shared prefix sticks, a new one goes to its owner', () => {
    const idx = new PrefixIndex({ maxChars: 1 << 20 });
    const system = 'You are a careful assistant. '.repeat(20);
    const first = prefixKey(`${system}user: hi`);
    const d1 = cacheAwareDecision(
      { walk, load: loadView({}), prefix: { matched: idx.match(first), chars: first.chars } },
      VLLM_ROUTER_DEFAULTS,
    );
    expect(d1.reason).toBe('ring_owner');
    idx.record(first, 'c'); // served by c after a failover, say
    const next = prefixKey(`${system}user: another question`);
    const d2 = cacheAwareDecision(
      { walk, load: loadView({}), prefix: { matched: idx.match(next), chars: next.chars } },
      VLLM_ROUTER_DEFAULTS,
    );
    expect(d2.winner).toBe('c');
  });
});

describe('load_aware', () => {
  test('score = prefix x share - load x load score + ring x owner', () => {
    const w = { prefix: 1, load: 1, ring: 0.3 };
    const d = loadAwareDecision({ walk, load: loadView({ a: 8, b: 0, c: 2 }), prefix: prefix({ c: 100 }, 100) }, w);
    // a: 0 - 1 + 0.3 = -0.7; b: 0; c: 1 - 0.25 = 0.75; d: 0
    expect(d.scores.map((s) => s.total)).toEqual([-0.7, 0, 0.75, 0]);
    expect(d.winner).toBe('c');
    expect(d.reason).toBe('prefix_match');
  });

  test('a cold key goes to the ring owner; a loaded owner loses to an idle neighbour', () => {
    const cold = loadAwareDecision({ walk, load: loadView({}) }, DEFAULT_LOAD_AWARE_WEIGHTS);
    expect(cold.winner).toBe('a');
    expect(cold.reason).toBe('ring_owner');
    const loaded = loadAwareDecision({ walk, load: loadView({ a: 10, b: 4, c: 0, d: 0 }) }, DEFAULT_LOAD_AWARE_WEIGHTS);
    expect(loaded.winner).toBe('c');
    expect(loaded.reason).toBe('least_loaded');
  });

  test('a slow pod’s queue and a nearly full KV cache push traffic away', () => {
    const load = loadView(
      {},
      { a: { waiting: 12, running: 8, kvCacheUsage: 0.4 }, b: { waiting: 0, running: 2, kvCacheUsage: 0.95 } },
    );
    const d = loadAwareDecision({ walk, load, prefix: prefix({ a: 50, b: 50 }, 100) }, DEFAULT_LOAD_AWARE_WEIGHTS);
    expect(d.winner).toBe('c');
  });

  test('weights change the outcome: with load weight 0 the prefix always wins', () => {
    const d = loadAwareDecision(
      { walk, load: loadView({ c: 100 }), prefix: prefix({ c: 100 }, 100) },
      { prefix: 1, load: 0, ring: 0.3 },
    );
    expect(d.winner).toBe('c');
    expect(d.why()).toMatch(/highest score/);
  });
});
