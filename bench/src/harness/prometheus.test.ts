import { describe, expect, it } from 'vitest';
import { histogramDelta, histogramQuantile, parseHistogram } from './prometheus.ts';

const text = (a: number, b: number, c: number) => `# HELP x_seconds x
# TYPE x_seconds histogram
x_seconds_bucket{le="0.001",route="/a"} ${a}
x_seconds_bucket{le="0.01",route="/a"} ${b}
x_seconds_bucket{le="+Inf",route="/a"} ${c}
x_seconds_sum{route="/a"} 1
x_seconds_count{route="/a"} ${c}
x_seconds_bucket{le="0.001",route="/b"} 0
x_seconds_bucket{le="0.01",route="/b"} 0
x_seconds_bucket{le="+Inf",route="/b"} 0
x_seconds_other 5
`;

describe('histograms from a Prometheus exposition', () => {
  it('sums label sets, subtracts scrapes and interpolates quantiles like histogram_quantile', () => {
    const before = parseHistogram(text(2, 2, 2), 'x_seconds');
    const after = parseHistogram(text(12, 22, 22), 'x_seconds');
    const delta = histogramDelta(after, before);
    expect(delta.count).toBe(20);
    expect(delta.buckets).toEqual([
      [0.001, 10],
      [0.01, 20],
      [Number.POSITIVE_INFINITY, 20],
    ]);
    // rank 10 of 20 is the top of the first bucket; rank 15 is half-way through the second
    expect(histogramQuantile(0.5, delta)).toBeCloseTo(0.001, 12);
    expect(histogramQuantile(0.75, delta)).toBeCloseTo(0.0055, 12);
    expect(histogramQuantile(0.5, parseHistogram('', 'x_seconds'))).toBeUndefined();
  });
});
