import { request } from 'undici';
import { runLoadgenProcess, runWarmUpLoad, startPdProxyProcess, startSimFleetProcess } from '../harness/launchers.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { fetchMetricsText } from '../harness/prometheus.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import type { ScenarioContext } from './context.ts';

// A decode pod whose /health passes while every inference request on it fails (500): active health checks
// keep it in the ring, so only the circuit breaker (vllm-router's --cb-* flags) takes it out of the walk.
// Each variant runs the same closed-loop load on a fresh fleet and proxy (warmed up while every pod is healthy,
// then the pod is broken), with the circuit breaker on (the defaults) and with --disable-circuit-breaker, with
// retries on (the defaults) and with --disable-retries; the variants are interleaved, --repeat times.
const PREFILL_PODS = 2;
const DECODE_PODS = 4;
/** The decode pod that fails: its share of the ring is about 1 / DECODE_PODS of the keys. */
const BROKEN_POD = 'decode-1';
const INPUT_LEN = 128;
const OUTPUT_LEN = 32;
const CONCURRENCY = 16;
const PROMPTS = 800;
const QUICK_PROMPTS = 200;
const REPEATS = 3;
const FAULT_TIMEOUT_MS = 10_000;

interface Variant {
  readonly name: string;
  readonly breaker: boolean;
  readonly retries: boolean;
  readonly proxyArgs: readonly string[];
}

const VARIANTS: readonly Variant[] = [
  { name: 'circuit breaker on (defaults)', breaker: true, retries: true, proxyArgs: [] },
  { name: '--disable-circuit-breaker', breaker: false, retries: true, proxyArgs: ['--disable-circuit-breaker'] },
  { name: '--disable-retries', breaker: true, retries: false, proxyArgs: ['--disable-retries'] },
  {
    name: '--disable-retries --disable-circuit-breaker',
    breaker: false,
    retries: false,
    proxyArgs: ['--disable-retries', '--disable-circuit-breaker'],
  },
];

async function breakPod(control: string, pod: string): Promise<void> {
  const res = await request(`${control}/pods/${encodeURIComponent(pod)}/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ errorRate500: 1 }),
    headersTimeout: FAULT_TIMEOUT_MS,
    bodyTimeout: FAULT_TIMEOUT_MS,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`setting faults on ${pod}: ${res.statusCode} ${text}`);
}

/** The sum of a counter's samples whose labels contain `label` (e.g. worker="URL"). */
function counterSum(text: string, name: string, label = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (label && !line.includes(label)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

async function podHealth(url: string): Promise<number> {
  const res = await request(`${url}/health`, { headersTimeout: FAULT_TIMEOUT_MS, bodyTimeout: FAULT_TIMEOUT_MS });
  await res.body.dump();
  return res.statusCode;
}

interface Run {
  readonly failed: number;
  readonly brokenPodHealth: number;
  readonly brokenPodDecodeErrors: number;
  readonly decodeRetries: number;
  readonly result: Record<string, unknown>;
}

async function runVariant(variant: Variant, prompts: number): Promise<Run> {
  const sim = await startSimFleetProcess([
    '--prefill',
    String(PREFILL_PODS),
    '--decode',
    String(DECODE_PODS),
    '--control-port',
    '0',
  ]);
  try {
    const broken = sim.pods.find((p) => p.name === BROKEN_POD);
    if (broken === undefined) throw new Error(`no pod ${BROKEN_POD} in the fleet`);
    const proxy = await startPdProxyProcess(sim, ['--policy', 'consistent_hash', ...variant.proxyArgs]);
    try {
      const target = ['--base-url', proxy.url, '--backend', 'openai', '--dataset-name', 'random'];
      await runWarmUpLoad([...target, '--random-input-len', String(INPUT_LEN)]);
      await breakPod(sim.control, BROKEN_POD);
      const brokenPodHealth = await podHealth(broken.url);
      if (brokenPodHealth !== 200)
        throw new Error(`${BROKEN_POD} /health answered ${brokenPodHealth}; the scenario needs 200`);
      const before = await fetchMetricsText(proxy.metricsUrl);
      const { result } = await runLoadgenProcess([
        ...target,
        '--random-input-len',
        String(INPUT_LEN),
        '--random-output-len',
        String(OUTPUT_LEN),
        '--num-prompts',
        String(prompts),
        '--max-concurrency',
        String(CONCURRENCY),
        '--metric-percentiles',
        '50,90,99',
        '--seed',
        '1',
      ]);
      const after = await fetchMetricsText(proxy.metricsUrl);
      const delta = (name: string, label?: string) => counterSum(after, name, label) - counterSum(before, name, label);
      return {
        failed: Number(result.failed),
        brokenPodHealth,
        brokenPodDecodeErrors: delta('vllm_router_pd_decode_errors_total', `worker="${broken.url}"`),
        decodeRetries: delta('pdrouter_decode_retries_total'),
        result,
      };
    } finally {
      await proxy.child.stop();
    }
  } finally {
    await sim.child.stop();
  }
}

export async function runBreakerScenario(ctx: ScenarioContext): Promise<void> {
  const machine = machineInfo();
  const prompts = ctx.int('prompts') ?? (ctx.quick ? QUICK_PROMPTS : PROMPTS);
  const repeats = ctx.int('repeat') ?? (ctx.quick ? 1 : REPEATS);
  const runs = new Map<Variant, Run[]>(VARIANTS.map((v) => [v, []]));
  for (let i = 0; i < repeats; i++) {
    for (const variant of VARIANTS) {
      const run = await runVariant(variant, prompts);
      runs.get(variant)?.push(run);
      const r = run.result;
      ctx.log(
        `run ${i + 1}/${repeats} ${variant.name}: failed ${run.failed} of ${prompts}, ${run.brokenPodDecodeErrors} ` +
          `decode legs failed on ${BROKEN_POD}, E2EL p50 ${fmt(Number(r.p50_e2el_ms))} ms, p99 ${fmt(Number(r.p99_e2el_ms))} ms`,
      );
    }
  }
  const rows = VARIANTS.map((v) => {
    const rs = runs.get(v) ?? [];
    const med = (k: string) => median(rs.map((r) => Number(r.result[k])));
    return {
      ...v,
      failed_per_run: rs.map((r) => r.failed),
      broken_pod_decode_errors_per_run: rs.map((r) => r.brokenPodDecodeErrors),
      decode_retries_per_run: rs.map((r) => r.decodeRetries),
      median_of_runs: {
        p50_e2el_ms: med('p50_e2el_ms'),
        p90_e2el_ms: med('p90_e2el_ms'),
        p99_e2el_ms: med('p99_e2el_ms'),
        mean_e2el_ms: med('mean_e2el_ms'),
        p50_ttft_ms: med('p50_ttft_ms'),
        p99_ttft_ms: med('p99_ttft_ms'),
        request_throughput: med('request_throughput'),
      },
      runs: rs,
    };
  });

  const json = {
    scenario: 'breaker',
    quick: ctx.quick,
    machine,
    command: ctx.command,
    setup: {
      prefill_pods: PREFILL_PODS,
      decode_pods: DECODE_PODS,
      broken_pod: BROKEN_POD,
      broken_pod_faults: { errorRate500: 1 },
      input_len: INPUT_LEN,
      output_len: OUTPUT_LEN,
      concurrency: CONCURRENCY,
      prompts,
      repeats,
    },
    variants: rows,
  };
  const md = [
    `# breaker: a pod whose /health passes while inference fails, circuit breaker on and off${ctx.quick ? ' (--quick)' : ''}`,
    '',
    machineMarkdown(machine, ctx.command),
    '- Not pinned; the machine was shared with other work while this ran.',
    '',
    `${PREFILL_PODS} prefill + ${DECODE_PODS} decode simulated pods; \`${BROKEN_POD}\` answers every inference ` +
      `request with 500 while its /health answers 200 (checked before each run), so health checks keep it in ` +
      `the ring. ${prompts} random prompts of ${INPUT_LEN} tokens in / ${OUTPUT_LEN} out, ${CONCURRENCY} in flight, ` +
      `consistent_hash, a fresh fleet and proxy per run (warmed up with every pod healthy, then the pod is broken); ` +
      `${repeats} interleaved run(s) per row, latencies the median over the runs. Latency percentiles are over the ` +
      'completed requests (a failed request has none); failed = the client got an error. The circuit breaker runs with ' +
      "vllm-router's defaults (--cb-failure-threshold 10, --cb-timeout-duration-secs 60); retries with theirs " +
      '(--retry-max-retries 5, backoff from 50 ms).',
    '',
    markdownTable(
      [
        'Proxy',
        'Circuit breaker',
        'Retries',
        'Failed requests (per run)',
        `Decode legs failed on ${BROKEN_POD} (per run)`,
        'E2E latency p50 (ms)',
        'p90 (ms)',
        'p99 (ms)',
        'mean (ms)',
        'TTFT p99 (ms)',
        'Req/s',
      ],
      rows.map((r) => [
        r.name,
        r.breaker ? 'on' : 'off',
        r.retries ? 'on' : 'off',
        `**${r.failed_per_run.join(' / ')}** of ${prompts}`,
        r.broken_pod_decode_errors_per_run.join(' / '),
        fmt(r.median_of_runs.p50_e2el_ms),
        fmt(r.median_of_runs.p90_e2el_ms),
        `**${fmt(r.median_of_runs.p99_e2el_ms)}**`,
        fmt(r.median_of_runs.mean_e2el_ms),
        fmt(r.median_of_runs.p99_ttft_ms),
        fmt(r.median_of_runs.request_throughput),
      ]),
    ),
  ].join('\n');
  const files = await writeResults(ctx.name, json, md);
  ctx.log(`wrote ${files.join(', ')}`);
}
