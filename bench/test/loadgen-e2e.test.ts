import { type SimFleet, type SimPod, type SimPodStats, startSimFleet } from '@pdrouter/vllm-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBenchmark } from '../src/loadgen/benchmark.ts';
import { parseLoadgenArgs } from '../src/loadgen/config.ts';
import { oraclePdTarget, oraclePlainTarget } from '../src/loadgen/oracle-pd.ts';
import { directTarget, roundRobinTarget, type Target } from '../src/loadgen/targets.ts';

// Small runs against real simulated pods over HTTP: the whole client path (undici, SSE, metrics, report).
const N = 12;
const IN = 40;
const OUT = 20;
const common = ['--num-prompts', String(N), '--random-input-len', String(IN), '--random-output-len', String(OUT)];

let fleet: SimFleet;
beforeAll(async () => {
  fleet = await startSimFleet({
    prefill: 2,
    decode: 2,
    plain: 2,
    timing: { stepBaseMs: 1, stepPerSeqMs: 0, requestOverheadMs: 0 },
  });
});
afterAll(async () => {
  await fleet?.close();
});

async function run(argv: string[], make: (c: ReturnType<typeof parseLoadgenArgs>) => Target) {
  const config = parseLoadgenArgs([...common, '--quiet', ...argv]);
  const target = make(config);
  const lines: string[] = [];
  try {
    return { ...(await runBenchmark(config, target, (l) => lines.push(l))), printed: lines.join('\n') };
  } finally {
    await target.close();
  }
}

const sum = (pods: readonly SimPod[], key: keyof SimPodStats): number =>
  pods.reduce((acc, p) => acc + Number(p.stats()[key]), 0);

describe('load generator against simulated pods', () => {
  it('openai backend direct to one pod: every request, every token, vLLM keys', async () => {
    const pod = fleet.plain[0];
    const before = pod?.stats().requests ?? 0;
    const { result, outputs, printed } = await run(
      ['--base-url', pod?.url as string, '--max-concurrency', '4'],
      directTarget,
    );
    expect(result.completed).toBe(N);
    expect(result.failed).toBe(0);
    expect(result.total_input_tokens).toBe(N * IN);
    expect(result.total_output_tokens).toBe(N * OUT);
    expect(result.max_concurrent_requests).toBeLessThanOrEqual(4);
    for (const key of [
      'duration',
      'request_throughput',
      'output_throughput',
      'median_ttft_ms',
      'p99_itl_ms',
      'mean_e2el_ms',
    ]) {
      expect(typeof result[key]).toBe('number');
    }
    expect(Number(result.mean_ttft_ms)).toBeGreaterThan(0);
    for (const o of outputs) expect(o.itl).toHaveLength(OUT - 1);
    expect(printed).toContain('============ Serving Benchmark Result ============');
    expect(printed).toContain('Output token throughput (tok/s):');
    expect((pod?.stats().requests ?? 0) - before).toBe(N);
  });

  it('openai-chat backend sends max_completion_tokens and counts the usage it gets back', async () => {
    const { result } = await run(
      ['--backend', 'openai-chat', '--base-url', fleet.plain[1]?.url as string],
      directTarget,
    );
    expect(result.completed).toBe(N);
    expect(result.total_output_tokens).toBe(N * OUT);
    // the simulator counts the role as one prompt token per message
    expect(result.total_input_tokens).toBe(N * (IN + 1));
  });

  it('--round-robin-url sends the requests to the servers in turn', async () => {
    const [a, b] = [fleet.plain[0], fleet.plain[1]] as [SimPod, SimPod];
    const before = [a.stats().requests, b.stats().requests];
    const { result } = await run(['--round-robin-url', a.url, '--round-robin-url', b.url], roundRobinTarget);
    expect(result.completed).toBe(N);
    expect(a.stats().requests - (before[0] as number)).toBe(N / 2);
    expect(b.stats().requests - (before[1] as number)).toBe(N / 2);
  });

  it('oracle-pd runs both legs: every decode finds its prefill (remote prefill hits)', async () => {
    const prefillBefore = sum(fleet.prefill, 'prefillRequests');
    const hitsBefore = sum(fleet.decode, 'remotePrefillHits');
    const fallbackBefore = sum(fleet.decode, 'localPrefillFallbacks');
    const argv = [
      '--backend-mode',
      'oracle-pd',
      ...fleet.prefill.flatMap((p) => ['--prefill', p.url]),
      ...fleet.decode.flatMap((p) => ['--decode', p.url]),
      '--max-concurrency',
      '6',
    ];
    const { result } = await run(argv, oraclePdTarget);
    expect(result.completed).toBe(N);
    expect(result.total_output_tokens).toBe(N * OUT);
    expect(sum(fleet.prefill, 'prefillRequests') - prefillBefore).toBe(N);
    expect(sum(fleet.decode, 'remotePrefillHits') - hitsBefore).toBe(N);
    expect(sum(fleet.decode, 'localPrefillFallbacks') - fallbackBefore).toBe(0);
  });

  it('oracle-plain spreads requests over the pods by consistent hash', async () => {
    const before = fleet.plain.map((p) => p.stats().requests);
    const argv = [
      '--backend-mode',
      'oracle-plain',
      ...fleet.plain.flatMap((p) => ['--worker-url', p.url]),
      '--num-prompts',
      '40',
    ];
    const { result } = await run(argv, oraclePlainTarget);
    expect(result.completed).toBe(40);
    const delta = fleet.plain.map((p, i) => p.stats().requests - (before[i] as number));
    expect(delta.reduce((a, b) => a + b, 0)).toBe(40);
    expect(delta.every((d) => d > 0)).toBe(true);
  });

  it('counts failures as vLLM does and keeps going', async () => {
    const pod = fleet.plain[0];
    pod?.setFaults({ errorRate500: 1 });
    try {
      const { result } = await run(['--base-url', pod?.url as string, '--save-detailed'], directTarget);
      expect(result.completed).toBe(0);
      expect(result.failed).toBe(N);
      expect(String((result.errors as string[])[0])).toMatch(/HTTP 500/);
    } finally {
      pod?.setFaults({ errorRate500: 0 });
    }
  });
});
