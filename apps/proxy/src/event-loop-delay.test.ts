import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { EventLoopDelaySampler, SAMPLE_INTERVAL_MS } from './event-loop-delay.ts';

function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a synchronous stretch of work, as a ring build is
  }
}

describe('EventLoopDelaySampler', () => {
  it('records a blocked event loop as one late sample at least as long as the block', async () => {
    const registry = new Registry();
    const histogram = new Histogram({
      name: 'delay_seconds',
      help: 'test',
      buckets: [0.01, 0.05, 0.1, 1],
      registers: [registry],
    });
    const sampler = new EventLoopDelaySampler(histogram);
    try {
      await new Promise((r) => setTimeout(r, SAMPLE_INTERVAL_MS * 3));
      blockFor(150);
      await new Promise((r) => setTimeout(r, SAMPLE_INTERVAL_MS * 3));
    } finally {
      sampler.close();
    }
    const values = (await histogram.get()).values;
    const bucket = (le: number) =>
      values.find((v) => v.metricName === 'delay_seconds_bucket' && v.labels.le === le)?.value;
    const count = values.find((v) => v.metricName === 'delay_seconds_count')?.value ?? 0;
    expect(count).toBeGreaterThanOrEqual(3);
    // The timer due during the block fired at least 150 - 10 ms late: above the 0.1 s bucket.
    expect((count as number) - (bucket(0.1) as number)).toBeGreaterThanOrEqual(1);
  });

  it('stops sampling when closed', async () => {
    const histogram = new Histogram({ name: 'closed_seconds', help: 'test', buckets: [1], registers: [] });
    const sampler = new EventLoopDelaySampler(histogram);
    sampler.close();
    await new Promise((r) => setTimeout(r, SAMPLE_INTERVAL_MS * 4));
    const count = (await histogram.get()).values.find((v) => v.metricName === 'closed_seconds_count')?.value ?? 0;
    expect(count).toBe(0);
  });
});
