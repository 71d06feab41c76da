import { describe, expect, it } from 'vitest';
import { buildConfig } from './config.ts';
import { parseFlags } from './flags.ts';
import { ProxyMetrics } from './metrics.ts';
import { RetryPolicy } from './retry-policy.ts';

const policy = (flags: string[], random?: () => number) =>
  new RetryPolicy(
    buildConfig(parseFlags(['--worker-urls', 'http://a:1', ...flags])).retry,
    new ProxyMetrics({ defaultMetrics: false }),
    random,
  );

describe('RetryPolicy', () => {
  it("--retry-max-retries is vllm-router's attempt count (the first included); 0 still tries once", () => {
    const order = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    expect(policy([]).limit(order)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(policy(['--retry-max-retries', '2']).limit(order)).toEqual(['a', 'b']);
    expect(policy(['--retry-max-retries', '0']).limit(order)).toEqual(['a']);
    expect(policy(['--disable-retries']).limit(order)).toEqual(['a']);
  });

  it('delays retries by --retry-initial-backoff-ms x --retry-backoff-multiplier^n, capped by --retry-max-backoff-ms', () => {
    const p = policy(
      [
        '--retry-initial-backoff-ms',
        '100',
        '--retry-backoff-multiplier',
        '3',
        '--retry-max-backoff-ms',
        '1000',
        '--retry-jitter-factor',
        '0',
      ],
      () => 0,
    );
    expect([1, 2, 3, 4].map((n) => p.delayMs(n))).toEqual([100, 300, 900, 1000]);
    // vllm-router's defaults: 50 ms growing by 1.5.
    expect(policy(['--retry-jitter-factor', '0']).delayMs(2)).toBe(75);
  });

  it('spreads each delay by --retry-jitter-factor', () => {
    const flags = ['--retry-initial-backoff-ms', '1000', '--retry-jitter-factor', '0.5'];
    expect(policy(flags, () => 0).delayMs(1)).toBe(500);
    expect(policy(flags, () => 0.999999).delayMs(1)).toBe(1500);
  });

  it('refuses a multiplier below 1, a jitter outside [0, 1] and a cap below the first delay', () => {
    expect(() => policy(['--retry-backoff-multiplier', '0.5'])).toThrow(/--retry-backoff-multiplier must be >= 1/);
    expect(() => policy(['--retry-jitter-factor', '1.5'])).toThrow(/--retry-jitter-factor must be between 0 and 1/);
    expect(() => policy(['--retry-initial-backoff-ms', '500', '--retry-max-backoff-ms', '100'])).toThrow(
      /--retry-max-backoff-ms \(100\) must be >= --retry-initial-backoff-ms \(500\)/,
    );
  });
});
