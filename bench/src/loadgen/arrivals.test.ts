import { describe, expect, it } from 'vitest';
import { arrivalOffsetsS } from './arrivals.ts';
import { SeededRandom } from './rng.ts';

describe('arrival times', () => {
  it('all at once at an infinite rate', () => {
    expect(arrivalOffsetsS(5, Number.POSITIVE_INFINITY, 1, new SeededRandom(1))).toEqual([0, 0, 0, 0, 0]);
  });

  it('evenly spaced when burstiness is infinite', () => {
    const t = arrivalOffsetsS(4, 2, Number.POSITIVE_INFINITY, new SeededRandom(1));
    expect(t).toEqual([0.5, 1, 1.5, 2]);
  });

  it('the last request goes out at n / rate (vLLM rescales the accumulated gaps)', () => {
    const t = arrivalOffsetsS(100, 10, 0.5, new SeededRandom(3));
    expect(t.at(-1)).toBeCloseTo(10, 9);
    for (let i = 1; i < t.length; i++) expect(t[i]).toBeGreaterThanOrEqual(t[i - 1] as number);
  });
});

describe('gamma sampling', () => {
  for (const shape of [0.3, 1, 4]) {
    it(`mean shape * scale and variance shape * scale^2 (shape ${shape})`, () => {
      const rng = new SeededRandom(42);
      const scale = 0.25;
      const n = 40_000;
      let sum = 0;
      let sq = 0;
      for (let i = 0; i < n; i++) {
        const x = rng.gamma(shape, scale);
        expect(x).toBeGreaterThan(0);
        sum += x;
        sq += x * x;
      }
      const m = sum / n;
      const variance = sq / n - m * m;
      expect(m).toBeGreaterThan(shape * scale * 0.97);
      expect(m).toBeLessThan(shape * scale * 1.03);
      expect(variance).toBeGreaterThan(shape * scale * scale * 0.9);
      expect(variance).toBeLessThan(shape * scale * scale * 1.1);
    });
  }

  it('is reproducible under a seed', () => {
    const a = new SeededRandom(9);
    const b = new SeededRandom(9);
    for (let i = 0; i < 100; i++) expect(a.gamma(2, 1)).toBe(b.gamma(2, 1));
  });
});
