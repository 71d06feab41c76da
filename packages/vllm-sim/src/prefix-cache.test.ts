import { describe, expect, it } from 'vitest';
import { computeBlockHashes, PrefixCache } from './prefix-cache.ts';

const words = (n: number, tag = 'w') => Array.from({ length: n }, (_, i) => `${tag}${i}`);

describe('block hashes', () => {
  it('hashes full blocks only, chained so a shared prefix gives shared hashes', () => {
    const a = computeBlockHashes(words(50), 16);
    expect(a).toHaveLength(3);
    const b = computeBlockHashes([...words(32), ...words(20, 'other')], 16);
    expect(b.slice(0, 2)).toEqual(a.slice(0, 2));
    expect(b[2]).not.toBe(a[2]);
    // Same block content after a different prefix hashes differently (chaining).
    const c = computeBlockHashes([...words(16, 'x'), ...words(32).slice(16)], 16);
    expect(c[1]).not.toBe(a[1]);
    expect(a.every((h) => Number.isSafeInteger(h))).toBe(true);
  });

  it('changes with the salt', () => {
    expect(computeBlockHashes(words(16), 16, 's1')).not.toEqual(computeBlockHashes(words(16), 16, 's2'));
  });
});

describe('PrefixCache', () => {
  it('matches leading blocks only and evicts least recently used', () => {
    const cache = new PrefixCache(3);
    cache.insert([1, 2, 3]);
    expect(cache.matchPrefix([1, 2, 9, 3])).toBe(2);
    cache.insert([4]); // evicts 3 (1 and 2 were touched by the match)
    expect(cache.matchPrefix([3])).toBe(0);
    expect(cache.matchPrefix([1, 2])).toBe(2);
    expect(cache.size).toBe(3);
  });

  it('holds nothing with zero capacity', () => {
    const cache = new PrefixCache(0);
    cache.insert([1]);
    expect(cache.matchPrefix([1])).toBe(0);
  });
});
