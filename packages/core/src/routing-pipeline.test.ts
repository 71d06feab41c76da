import { describe, expect, test } from 'vitest';
import type { LoadView, PodSignals } from './pod-signals.ts';
import {
  argmax,
  argmin,
  filterCandidates,
  LOAD_SCALE_FLOOR,
  loadScores,
  orderAfterPick,
  podLoad,
  prefixScore,
  ringScore,
} from './routing-pipeline.ts';

function loadView(inFlight: Record<string, number>, signals: Record<string, PodSignals> = {}): LoadView {
  return { inFlight: (u) => inFlight[u] ?? 0, signals: (u) => signals[u] };
}

describe('filters', () => {
  test('keep ready, not ejected, under-cap pods in walk order and say why the others left', () => {
    const r = filterCandidates(['a', 'b', 'c', 'd'], loadView({ c: 5 }), {
      isReady: (u) => u !== 'a',
      isEjected: (u) => u === 'b',
      maxInFlight: 5,
    });
    expect(r.kept).toEqual(['d']);
    expect(r.dropped).toEqual([
      { url: 'a', reason: 'not_ready' },
      { url: 'b', reason: 'ejected' },
      { url: 'c', reason: 'at_cap' },
    ]);
    expect(filterCandidates(['a', 'b'], loadView({}), {}).kept).toEqual(['a', 'b']);
  });
});

describe('load scorer', () => {
  test('queue is the larger of in-flight and the pod’s running + waiting; broken values read as 0', () => {
    const view = loadView(
      { a: 3, b: 10, c: Number.NaN },
      { a: { waiting: 4, running: 2, kvCacheUsage: 0.5 }, b: { waiting: 1, running: 1, kvCacheUsage: 7 } },
    );
    expect(podLoad('a', view)).toEqual({ inFlight: 3, queue: 6, kvCacheUsage: 0.5 });
    expect(podLoad('b', view)).toEqual({ inFlight: 10, queue: 10, kvCacheUsage: 1 });
    expect(podLoad('c', view)).toEqual({ inFlight: 0, queue: 0, kvCacheUsage: undefined });
  });

  test('normalised to the busiest pod (at least the floor), or KV usage when higher', () => {
    const s = loadScores([
      { inFlight: 0, queue: 0, kvCacheUsage: undefined },
      { inFlight: 8, queue: 8, kvCacheUsage: 0.2 },
      { inFlight: 2, queue: 2, kvCacheUsage: 0.9 },
    ]);
    expect(s).toEqual([0, 1, 0.9]);
    // One request on an otherwise idle fleet is not overload.
    expect(loadScores([{ inFlight: 1, queue: 1, kvCacheUsage: undefined }])[0]).toBe(1 / LOAD_SCALE_FLOOR);
  });
});

describe('prefix and ring scorers', () => {
  test('prefix: the share of the text matched; ring: 1 for the owner only', () => {
    expect(prefixScore(50, 200)).toBe(0.25);
    expect(prefixScore(10, 0)).toBe(0);
    expect(prefixScore(300, 200)).toBe(1);
    expect(ringScore(0)).toBe(1);
    expect(ringScore(3)).toBe(0);
  });
});

describe('pick', () => {
  test('ties go to the earliest in walk order', () => {
    expect(argmax([1, 3, 3])).toBe(1);
    expect(argmin([2, 1, 1])).toBe(1);
    expect(argmax([])).toBeUndefined();
  });

  test('the failover order is the winner, the kept pods in walk order, then the filtered ones', () => {
    expect(orderAfterPick('c', ['b', 'c', 'd'], ['a', 'b', 'c', 'd'])).toEqual(['c', 'b', 'd', 'a']);
    expect(orderAfterPick(undefined, [], ['a', 'b'])).toEqual(['a', 'b']);
  });
});
