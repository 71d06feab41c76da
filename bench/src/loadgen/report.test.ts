import { describe, expect, it } from 'vitest';
import { parseLoadgenArgs } from './config.ts';
import { calculateMetrics, emptyOutput, type RequestOutput } from './metrics.ts';
import { buildReport, defaultResultFilename, pyFloat, trafficLines } from './report.ts';

const out = (fields: Partial<RequestOutput>): RequestOutput => ({ ...emptyOutput(100), success: true, ...fields });

describe("vLLM's result table and JSON", () => {
  const config = parseLoadgenArgs(['--max-concurrency', '8', '--goodput', 'ttft:500', '--request-id-prefix', 'r-']);
  const outputs = [
    out({ startTime: 1, ttft: 0.1, itl: [0.01, 0.01], latency: 0.12, outputTokens: 3 }),
    out({ startTime: 1.5, ttft: 0.9, itl: [0.02], latency: 0.92, outputTokens: 2 }),
  ];
  const metrics = calculateMetrics(outputs, 2, config.metricPercentiles, config.goodput);
  const { table, result } = buildReport({
    config,
    modelId: 'org/model',
    durationS: 2,
    metrics,
    outputs,
    clientCpuS: 0.01,
    date: new Date(2026, 0, 2, 3, 4, 5),
  });

  it('prints the same rows, labels and widths', () => {
    const lines = table.split('\n');
    expect(lines[0]).toBe('============ Serving Benchmark Result ============');
    expect(lines).toContain(`${'Successful requests:'.padEnd(40)} ${'2'.padEnd(10)}`);
    expect(lines).toContain(`${'Maximum request concurrency:'.padEnd(40)} ${'8'.padEnd(10)}`);
    expect(lines).toContain(`${'Benchmark duration (s):'.padEnd(40)} ${'2.00'.padEnd(10)}`);
    expect(lines).toContain(`${'Request goodput (req/s):'.padEnd(40)} ${'0.50'.padEnd(10)}`);
    expect(lines).toContain(`${'Output token throughput (tok/s):'.padEnd(40)} ${'2.50'.padEnd(10)}`);
    expect(lines).toContain('---------------Time to First Token----------------');
    expect(lines).toContain('-----Time per Output Token (excl. 1st token)------');
    expect(lines).toContain(`${'P99 TTFT (ms):'.padEnd(40)} ${'892.00'.padEnd(10)}`);
    expect(lines.indexOf('='.repeat(50))).toBeGreaterThan(0);
  });

  it("saves vLLM's keys", () => {
    for (const key of [
      'date',
      'endpoint_type',
      'backend',
      'model_id',
      'num_prompts',
      'request_rate',
      'burstiness',
      'max_concurrency',
      'duration',
      'completed',
      'failed',
      'total_input_tokens',
      'total_output_tokens',
      'request_throughput',
      'request_goodput',
      'output_throughput',
      'total_token_throughput',
      'max_output_tokens_per_s',
      'max_concurrent_requests',
      'mean_ttft_ms',
      'median_ttft_ms',
      'std_ttft_ms',
      'p99_ttft_ms',
      'mean_tpot_ms',
      'p99_itl_ms',
      'median_e2el_ms',
    ]) {
      expect(result).toHaveProperty(key);
    }
    expect(result.date).toBe('20260102-030405');
    expect(result.request_rate).toBe('inf');
    expect(result.total_output_tokens).toBe(5);
    expect(result.request_goodput).toBe(0.5);
    expect(result).not.toHaveProperty('ttfts');
  });

  it('formats like Python', () => {
    expect(pyFloat(1)).toBe('1.0');
    expect(pyFloat(Number.POSITIVE_INFINITY)).toBe('inf');
    expect(pyFloat(0.5)).toBe('0.5');
    expect(trafficLines(config)).toEqual([
      'Traffic request rate: inf',
      'Burstiness factor: 1.0 (Poisson process)',
      'Maximum request concurrency: 8',
    ]);
    expect(defaultResultFilename(config, 'org/model', '20260102-030405')).toBe(
      'openai-infqps-concurrency8-model-20260102-030405.json',
    );
  });
});
