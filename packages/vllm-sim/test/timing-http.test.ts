import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_TIMING, FakeClock } from '../src/index.ts';
import { getText, metricValue, postJson, promptOf, startFleet, startPod, stopAll, waitFor } from './helpers.ts';

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

  it("exports the scheduler's queue and KV-cache usage as vLLM's gauges, per model_name and engine", async () => {
    const clock = new FakeClock();
    const T = DEFAULT_TIMING;
    const pod = await startPod({ clock, timing: { maxNumSeqs: 1, numGpuBlocks: 100 } });
    const pending = [0, 1, 2].map((i) =>
      postJson(`${pod.url}/v1/completions`, { prompt: promptOf(160, `q${i}`), max_tokens: 2, ignore_eos: true }),
    );
    await waitFor('three requests to reach the pod', () => pod.stats().waiting === 3);
    clock.advance(T.requestOverheadMs); // admitted: one runs, two wait (max-num-seqs 1)
    const gauge = async (name: string) => {
      const text = (await getText(`${pod.url}/metrics`)).text;
      return metricValue(text, name, `model_name="${pod.generation.model}",engine="0"`);
    };
    expect(await gauge('vllm:num_requests_running')).toBe(1);
    expect(await gauge('vllm:num_requests_waiting')).toBe(2);
    // 160 prompt tokens + the first output token = 11 blocks of 16 held by the running sequence, of 100.
    expect(await gauge('vllm:kv_cache_usage_perc')).toBeCloseTo(0.11, 9);
    clock.advance(10_000);
    for (const r of await Promise.all(pending)) expect(r.status).toBe(200);
    expect(await gauge('vllm:num_requests_running')).toBe(0);
    expect(await gauge('vllm:num_requests_waiting')).toBe(0);
    expect(await gauge('vllm:kv_cache_usage_perc')).toBe(0);
  });

  it('slows only the pods named in podSpeed: decode-1 at 0.5 takes twice the simulated time', async () => {
    const clock = new FakeClock();
    const fleet = await startFleet({ decode: 2, clock, podSpeed: { 'decode-1': 0.5 } });
    expect(fleet.pods.map((p) => p.stats().speed)).toEqual([1, 0.5]);
    const e2e = async (url: string) => {
      const pending = postJson(`${url}/v1/completions`, { prompt: promptOf(100), max_tokens: 4, ignore_eos: true });
      clock.advance(0);
      await waitFor('the request to reach the scheduler', () => fleet.pods.some((p) => p.stats().waiting === 1));
      clock.advance(10_000);
      expect((await pending).status).toBe(200);
      return metricValue((await getText(`${url}/metrics`)).text, 'vllm:e2e_request_latency_seconds_sum') as number;
    };
    const T = DEFAULT_TIMING;
    const fast = await e2e(fleet.decode[0]?.url as string);
    const slow = await e2e(fleet.decode[1]?.url as string);
    expect(slow - T.requestOverheadMs / 1000).toBeCloseTo(2 * (fast - T.requestOverheadMs / 1000), 9);
    await expect(startFleet({ decode: 1, podSpeed: { 'decode-4': 0.5 } })).rejects.toThrow(
      'podSpeed names no pod of this fleet: decode-4',
    );
  });
});
