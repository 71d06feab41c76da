import { describe, expect, it } from 'vitest';
import { countWordTokens, sampleRandomDataset, VOCABULARY } from './dataset.ts';

const base = {
  numPrompts: 50,
  inputLen: 100,
  outputLen: 40,
  rangeRatio: 0,
  prefixLen: 0,
  seed: 7,
  requestIdPrefix: 'r-',
};

describe('random dataset', () => {
  it('is a pure function of the seed', () => {
    expect(sampleRandomDataset(base)).toEqual(sampleRandomDataset(base));
    const other = sampleRandomDataset({ ...base, seed: 8 });
    expect(other.map((r) => r.prompt)).not.toEqual(sampleRandomDataset(base).map((r) => r.prompt));
  });

  it('prompts hold exactly promptLen words and ids are prefix + index', () => {
    const reqs = sampleRandomDataset({ ...base, rangeRatio: 0.5, prefixLen: 16 });
    reqs.forEach((r, i) => {
      expect(countWordTokens(r.prompt)).toBe(r.promptLen);
      expect(r.requestId).toBe(`r-${i}`);
      expect(r.promptLen).toBeGreaterThanOrEqual(16 + 50);
      expect(r.promptLen).toBeLessThanOrEqual(16 + 150);
      expect(r.expectedOutputLen).toBeGreaterThanOrEqual(20);
      expect(r.expectedOutputLen).toBeLessThanOrEqual(60);
    });
    // the ranges are actually used
    expect(new Set(reqs.map((r) => r.promptLen)).size).toBeGreaterThan(10);
  });

  it('shares the random prefix across prompts and nothing after it', () => {
    const reqs = sampleRandomDataset({ ...base, prefixLen: 8 });
    const prefixes = new Set(reqs.map((r) => r.prompt.split(' ').slice(0, 8).join(' ')));
    expect(prefixes.size).toBe(1);
    const ninth = new Set(reqs.map((r) => r.prompt.split(' ')[8]));
    expect(ninth.size).toBeGreaterThan(40);
  });

  it('fixed lengths at range ratio 0', () => {
    for (const r of sampleRandomDataset(base)) {
      expect(r.promptLen).toBe(100);
      expect(r.expectedOutputLen).toBe(40);
    }
  });

  it('rejects impossible settings with clear errors', () => {
    expect(() => sampleRandomDataset({ ...base, rangeRatio: 1 })).toThrow(/range-ratio/);
    expect(() => sampleRandomDataset({ ...base, inputLen: 0 })).toThrow(/too small/);
  });

  it('has a vocabulary of distinct single words', () => {
    expect(new Set(VOCABULARY).size).toBe(VOCABULARY.length);
    expect(VOCABULARY.every((w) => countWordTokens(w) === 1)).toBe(true);
  });
});
