import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_TIMING, FakeClock } from '../src/index.ts';
import { getText, metricValue, postJson, promptOf, startPod, stopAll, waitFor } from './helpers.ts';

afterEach(stopAll);

describe('timing model through HTTP, on a fake clock', () => {
  it('reports TTFT in vllm:time_to_first_token_seconds in simulated time, exactly', async () => {
    const clock = new FakeClock();
    const pod = await startPod({ clock });
    const pending = postJson(`${pod.url}/v1/completions`, { prompt: promptOf(200), max_tokens: 3, ignore_eos: true });
    await waitFor('the request to reach the scheduler', () => pod.stats().waiting === 1);
    clock.advance(10_000);
    const res = await pending;
    expect(res.status).toBe(200);
    const T = DEFAULT_TIMING;
    const ttftMs = T.requestOverheadMs + T.stepBaseMs + T.stepPerSeqMs + T.prefillPerTokenMs * 200;
    const metrics = (await getText(`${pod.url}/metrics`)).text;
    expect(metricValue(metrics, 'vllm:time_to_first_token_seconds_sum')).toBeCloseTo(ttftMs / 1000, 9);
    expect(metricValue(metrics, 'vllm:time_to_first_token_seconds_count')).toBe(1);
    // 1 + 5.75 + 8 = 14.75 ms: outside the 10 ms bucket, inside the 20 ms one.
    expect(metricValue(metrics, 'vllm:time_to_first_token_seconds_bucket', 'le="0.01"')).toBe(0);
    expect(metricValue(metrics, 'vllm:time_to_first_token_seconds_bucket', 'le="0.02"')).toBe(1);
    const stepMs = T.stepBaseMs + T.stepPerSeqMs;
    expect(metricValue(metrics, 'vllm:inter_token_latency_seconds_count')).toBe(2);
    expect(metricValue(metrics, 'vllm:inter_token_latency_seconds_sum')).toBeCloseTo((2 * stepMs) / 1000, 9);
    expect(metricValue(metrics, 'vllm:e2e_request_latency_seconds_sum')).toBeCloseTo((ttftMs + 2 * stepMs) / 1000, 9);
    expect(metricValue(metrics, 'vllm:generation_tokens_total')).toBe(3);
    expect(metricValue(metrics, 'vllm:prompt_tokens_total')).toBe(200);
    expect(metricValue(metrics, 'vllm:request_success_total', 'finished_reason="length"')).toBe(1);
  });

  it('shows prefix-cache hits in metrics and a shorter TTFT for a repeated prompt', async () => {
    const clock = new FakeClock();
    const pod = await startPod({ clock });
    const prompt = promptOf(320, 'shared');
    for (let i = 0; i < 2; i++) {
      const pending = postJson(`${pod.url}/v1/completions`, { prompt, max_tokens: 1 });
      await waitFor('the request to reach the scheduler', () => pod.stats().waiting === 1);
      clock.advance(10_000);
      expect((await pending).status).toBe(200);
    }
    const metrics = (await getText(`${pod.url}/metrics`)).text;
    expect(metricValue(metrics, 'vllm:prefix_cache_queries_total')).toBe(640);
    expect(metricValue(metrics, 'vllm:prefix_cache_hits_total')).toBe(304); // 19 of 20 blocks: the last token is computed
    const T = DEFAULT_TIMING;
    const step = T.requestOverheadMs + T.stepBaseMs + T.stepPerSeqMs;
    const expected = (2 * step + T.prefillPerTokenMs * (320 + 16)) / 1000;
    expect(metricValue(metrics, 'vllm:time_to_first_token_seconds_sum')).toBeCloseTo(expected, 9);
  });
});
