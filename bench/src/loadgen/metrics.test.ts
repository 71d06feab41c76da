import { describe, expect, it } from 'vitest';
import { calculateMetrics, emptyOutput, type RequestOutput } from './metrics.ts';

function output(fields: Partial<RequestOutput>): RequestOutput {
  return { ...emptyOutput(10), success: true, ...fields };
}

describe('calculateMetrics (vLLM definitions)', () => {
  // Two requests with hand-computed timings (seconds).
  const a = output({
    startTime: 100,
    ttft: 0.1,
    itl: [0.01, 0.01, 0.02],
    latency: 0.14,
    outputTokens: 4,
    promptLen: 10,
  });
  const b = output({ startTime: 100.1, ttft: 0.3, itl: [0.7, 0.4], latency: 1.4, outputTokens: 3, promptLen: 20 });
  const failed = { ...emptyOutput(30), error: 'HTTP 503' };

  const m = calculateMetrics([a, b, failed], 2, [99], {});

  it('counts completed, failed, tokens and throughputs over the duration', () => {
    expect(m.completed).toBe(2);
    expect(m.failed).toBe(1);
    expect(m.totalInput).toBe(30);
    expect(m.totalOutput).toBe(7);
    expect(m.requestThroughput).toBe(1);
    expect(m.outputThroughput).toBe(3.5);
    expect(m.totalTokenThroughput).toBe(18.5);
    expect(m.actualOutputLens).toEqual([4, 3, 0]);
  });

  it('TPOT = (E2E - TTFT) / (tokens - 1), TTFT and E2EL per request, ITL per gap', () => {
    // a: (0.14 - 0.1) / 3 = 13.333 ms; b: (1.4 - 0.3) / 2 = 550 ms
    expect(m.tpotMs.mean).toBeCloseTo((13.3333333 + 550) / 2, 4);
    expect(m.ttftMs.mean).toBeCloseTo(200, 9);
    expect(m.ttftMs.median).toBeCloseTo(200, 9);
    expect(m.ttftMs.std).toBeCloseTo(100, 9);
    expect(m.e2elMs.mean).toBeCloseTo(770, 9);
    // ITLs: 10, 10, 20, 700, 400 ms -> sorted 10 10 20 400 700; median 20; p99 = 400 + 0.96 * 300
    expect(m.itlMs.median).toBeCloseTo(20, 9);
    expect(m.itlMs.percentiles[0]?.[1]).toBeCloseTo(688, 9);
  });

  it('peak output tokens in one 1-second bucket from the first start, peak concurrency by sweep', () => {
    // a's 4 tokens at 100.1 .. 100.14 (bucket 0); b starts at 100.1 (overlap) and its tokens come at 100.4 (bucket 0), 101.1, 101.5 (bucket 1)
    expect(m.maxOutputTokensPerS).toBe(5);
    expect(m.maxConcurrentRequests).toBe(2);
  });

  it('departures come before arrivals at the same instant (half-open intervals)', () => {
    const first = output({ startTime: 0, ttft: 0.5, latency: 1, outputTokens: 1 });
    const second = output({ startTime: 1, ttft: 0.5, latency: 1, outputTokens: 1 });
    expect(calculateMetrics([first, second], 2, [99], {}).maxConcurrentRequests).toBe(1);
  });

  it('goodput counts requests within every SLO, TPOT of a one-token request being 0', () => {
    expect(calculateMetrics([a, b], 2, [99], { ttft: 150 }).requestGoodput).toBe(0.5);
    expect(calculateMetrics([a, b], 2, [99], { ttft: 400, tpot: 100 }).requestGoodput).toBe(0.5);
    expect(calculateMetrics([a, b], 2, [99], { e2el: 2000 }).requestGoodput).toBe(1);
    const one = output({ ttft: 0.01, latency: 0.01, outputTokens: 1 });
    expect(calculateMetrics([one], 1, [99], { tpot: 0 }).requestGoodput).toBe(1);
  });

  it('falls back to counting words of the text when no usage arrived', () => {
    const noUsage = output({ ttft: 0.1, itl: [0.1, 0.1], latency: 0.3, outputTokens: 0, generatedText: ' a b c' });
    expect(calculateMetrics([noUsage], 1, [99], {}).totalOutput).toBe(3);
  });

  it('reads as zeros when every request failed (numpy on [0])', () => {
    const none = calculateMetrics([failed], 1, [99], {});
    expect(none.completed).toBe(0);
    expect(none.ttftMs.mean).toBe(0);
    expect(none.maxOutputTokensPerS).toBe(0);
  });
});
