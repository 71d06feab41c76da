import { describe, expect, it } from 'vitest';
import { idealPrefixHits, ofIdeal } from '../src/fleet/ideal.ts';

const words = (from: number, n: number): string[] => Array.from({ length: n }, (_, i) => `w${from + i}`);

describe('idealPrefixHits (perfect knowledge, unbounded caches)', () => {
  it('counts whole leading blocks already sent, never the last prompt token, as the pods do', () => {
    const a = words(0, 9); // 2 full blocks of 4
    const sharesTwoBlocks = [...words(0, 8), 'x', 'y', 'z'];
    const sameAsA = words(0, 9);
    const exactlyTwoBlocks = words(0, 8); // its last token is always computed: 1 block at most
    const differsFirst = ['q', ...words(1, 8)];
    const ideal = idealPrefixHits([a, sharesTwoBlocks, sameAsA, exactlyTwoBlocks, differsFirst], 4);
    expect(ideal.requests).toBe(5);
    expect(ideal.queryTokens).toBe(9 + 11 + 9 + 8 + 9);
    expect(ideal.hitTokens).toBe(0 + 8 + 8 + 4 + 0);
    expect(ideal.rate).toBeCloseTo(20 / 46, 12);
  });

  it('matches a chain of blocks, so a block equal in the middle of a different prefix is no hit', () => {
    const a = words(0, 12);
    const b = ['x', 'x', 'x', 'x', ...words(4, 8)]; // blocks 2 and 3 equal a's, block 1 not
    expect(idealPrefixHits([a, b], 4).hitTokens).toBe(0);
  });

  it('does not depend on the order of requests that are not prefixes of one another', () => {
    const prompts = [
      [...words(0, 32), ...words(100, 20)],
      [...words(0, 32), ...words(200, 20)],
      [...words(0, 16), ...words(300, 40)],
      words(500, 30),
    ];
    const forward = idealPrefixHits(prompts, 16);
    const backward = idealPrefixHits([...prompts].reverse(), 16);
    expect(forward.hitTokens).toBe(backward.hitTokens);
    expect(forward.hitTokens).toBe(32 + 16 + 0);
  });

  it('is 0 for an empty workload, and a fraction of it is undefined when nothing could hit', () => {
    const none = idealPrefixHits([], 16);
    expect(none.rate).toBe(0);
    expect(ofIdeal(0.5, none)).toBeUndefined();
    expect(ofIdeal(0.4, { requests: 1, queryTokens: 10, hitTokens: 8, rate: 0.8 })).toBeCloseTo(0.5, 12);
  });
});
