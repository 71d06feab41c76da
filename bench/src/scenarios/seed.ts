import {
  type ProxyProcess,
  pdPodFlags,
  runLoadgenProcess,
  runWarmUpLoad,
  startPdProxyProcess,
  startSimFleetProcess,
} from '../harness/launchers.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { processCpuSeconds, processMemoryMiB } from '../harness/process-stats.ts';
import { fetchMetricsText, histogramDelta, histogramQuantile, parseHistogram } from '../harness/prometheus.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import { lineChartSvg } from '../harness/svg-chart.ts';
import type { ScenarioContext } from './context.ts';
import { SEED_VLLM_ROUTER } from './seed-reference.ts';

/** The seed's shape: 8 prefill + 8 decode pods, 200 prompts of 1000 in / 1000 out, four concurrencies. */
const SEED_PREFILL_PODS = 8;
const SEED_DECODE_PODS = 8;
const SEED_CONCURRENCIES = [32, 64, 128, 256];
const SEED_NUM_PROMPTS = 200;
const SEED_INPUT_LEN = 1000;
const SEED_OUTPUT_LEN = 1000;
/**
 * --quick: the same 200 prompts with 200-token answers, about a minute for all eight runs. (Two waves of requests
 * only, as tried first, made TTFT a measure of the start-up burst, not of the router.)
 */
const QUICK_OUTPUT_LEN = 200;
/**
 * The TTFT probe: one request at a time (no batching on the pods, so no scheduling noise), tiny answers, the two
 * paths alternated in blocks. Its median difference is what the router adds to TTFT on an idle fleet.
 */
const PROBE_PROMPTS = 100;
const QUICK_PROBE_PROMPTS = 40;
const PROBE_BLOCKS = 2;
const PROBE_OUTPUT_LEN = 2;

/** Targets of the issue: ratios on this machine. */
const TARGET_THROUGHPUT_RATIO = 0.97;
const TARGET_MEDIAN_TTFT_OVERHEAD_MS = 1;

type Which = 'pdrouter' | 'oracle';

interface RunRecord {
  readonly result: Record<string, unknown>;
  readonly proxyCpuS?: number;
  readonly simCpuS: number;
  /** The proxy's own share of TTFT during the run (its pdrouter_router_overhead_seconds histogram), ms. */
  readonly proxyOverheadMs?: { p50: number | undefined; p99: number | undefined; mean: number | undefined };
}

/** The proxy's self-measured share of TTFT (time not spent waiting on pods). */
const OVERHEAD_HISTOGRAM = 'pdrouter_router_overhead_seconds';

const n = (r: Record<string, unknown>, key: string): number => Number(r[key]);

export async function runSeedScenario(ctx: ScenarioContext): Promise<void> {
  const concurrencies = ctx.ints('concurrency') ?? SEED_CONCURRENCIES;
  const inputLen = ctx.int('input-len') ?? SEED_INPUT_LEN;
  const outputLen = ctx.int('output-len') ?? (ctx.quick ? QUICK_OUTPUT_LEN : SEED_OUTPUT_LEN);
  const numPrompts = ctx.int('num-prompts') ?? SEED_NUM_PROMPTS;
  // --repeat N: N interleaved pdrouter/oracle pairs per concurrency; the ratio is then pooled over them.
  const repeat = ctx.int('repeat') ?? 1;
  const promptsFor = (_c: number): number => numPrompts;
  const machine = machineInfo();

  ctx.log(`starting ${SEED_PREFILL_PODS}P+${SEED_DECODE_PODS}D simulated pods (seed timing)`);
  const sim = await startSimFleetProcess([
    '--prefill',
    String(SEED_PREFILL_PODS),
    '--decode',
    String(SEED_DECODE_PODS),
  ]);
  let proxy: ProxyProcess | undefined;
  try {
    proxy = await startPdProxyProcess(sim, ['--policy', 'consistent_hash']);
    ctx.log(`proxy at ${proxy.url}`);
    const oracleArgs = ['--backend-mode', 'oracle-pd', ...pdPodFlags(sim)];
    const targetArgs = (which: Which): string[] =>
      which === 'pdrouter'
        ? ['--base-url', proxy?.url as string, '--label', 'pdrouter']
        : [...oracleArgs, '--label', 'oracle'];

    for (const which of ['pdrouter', 'oracle'] as const) {
      await runWarmUpLoad([...targetArgs(which), '--random-input-len', String(inputLen)]);
    }
    ctx.log('warm-up done');

    const rows: SeedRow[] = [];
    let seed = 0;
    let pairIndex = 0;
    for (const c of concurrencies) {
      const row: SeedRow = { concurrency: c, repeats: [] };
      rows.push(row);
      for (let rep = 0; rep < repeat; rep++) {
        // Alternate which path goes first so a drift of the machine does not always favour the same one.
        const order: Which[] = pairIndex++ % 2 === 0 ? ['pdrouter', 'oracle'] : ['oracle', 'pdrouter'];
        const record: Partial<Record<Which, RunRecord>> = {};
        for (const which of order) {
          // A fresh seed per run: no run finds another run's prompts in the prefix caches.
          seed++;
          const proxyCpu0 = await processCpuSeconds(proxy.child.pid);
          const overhead0 = parseHistogram(await fetchMetricsText(proxy.metricsUrl), OVERHEAD_HISTOGRAM);
          const simCpu0 = await processCpuSeconds(sim.child.pid);
          const { result } = await runLoadgenProcess([
            ...targetArgs(which),
            '--backend',
            'openai',
            '--dataset-name',
            'random',
            '--num-prompts',
            String(promptsFor(c)),
            '--random-input-len',
            String(inputLen),
            '--random-output-len',
            String(outputLen),
            '--max-concurrency',
            String(c),
            '--ignore-eos',
            '--seed',
            String(seed),
          ]);
          const proxyCpuS = (await processCpuSeconds(proxy.child.pid)) - proxyCpu0;
          const simCpuS = (await processCpuSeconds(sim.child.pid)) - simCpu0;
          const overhead = histogramDelta(
            parseHistogram(await fetchMetricsText(proxy.metricsUrl), OVERHEAD_HISTOGRAM),
            overhead0,
          );
          const proxyOverheadMs = {
            p50: msOrUndefined(histogramQuantile(0.5, overhead)),
            p99: msOrUndefined(histogramQuantile(0.99, overhead)),
            mean: overhead.count > 0 ? (1000 * overhead.sum) / overhead.count : undefined,
          };
          record[which] = which === 'pdrouter' ? { result, proxyCpuS, simCpuS, proxyOverheadMs } : { result, simCpuS };
          ctx.log(
            `c=${c}${repeat > 1 ? ` #${rep + 1}` : ''} ${which}: ${fmt(n(result, 'output_throughput'))} tok/s, median TTFT ${fmt(n(result, 'median_ttft_ms'))} ms, failed ${result.failed}`,
          );
        }
        row.repeats.push({ pdrouter: record.pdrouter as RunRecord, oracle: record.oracle as RunRecord });
      }
    }
    const probe: Record<Which, Record<string, unknown>[]> = { pdrouter: [], oracle: [] };
    const probePrompts = Math.ceil((ctx.quick ? QUICK_PROBE_PROMPTS : PROBE_PROMPTS) / PROBE_BLOCKS);
    for (let block = 0; block < PROBE_BLOCKS; block++) {
      for (const which of block % 2 === 0 ? (['pdrouter', 'oracle'] as const) : (['oracle', 'pdrouter'] as const)) {
        seed++;
        const { result } = await runLoadgenProcess([
          ...targetArgs(which),
          '--num-prompts',
          String(probePrompts),
          '--random-input-len',
          String(inputLen),
          '--random-output-len',
          String(PROBE_OUTPUT_LEN),
          '--max-concurrency',
          '1',
          '--seed',
          String(seed),
          '--save-detailed',
        ]);
        probe[which].push(result);
      }
    }
    const probeSummary = summarizeProbe(probe);
    ctx.log(
      `TTFT probe (concurrency 1): median pdrouter ${fmt(probeSummary.pdrouter.median_ttft_ms)} ms, oracle ${fmt(probeSummary.oracle.median_ttft_ms)} ms`,
    );
    const proxyMemory = await processMemoryMiB(proxy.child.pid);
    await writeSeedResults(ctx, machine, rows, { inputLen, outputLen, promptsFor, proxyMemory, probe: probeSummary });
  } finally {
    await proxy?.child.stop();
    await sim.child.stop();
  }
}

interface ProbeSide {
  readonly requests: number;
  readonly failed: number;
  readonly median_ttft_ms: number;
  readonly p99_ttft_ms: number;
}
type ProbeSummary = { pdrouter: ProbeSide; oracle: ProbeSide; median_added_ms: number; p99_added_ms: number };

/** Pools the per-request TTFTs of every probe block of a path (they need --save-detailed). */
function summarizeProbe(probe: Record<Which, Record<string, unknown>[]>): ProbeSummary {
  const side = (results: Record<string, unknown>[]): ProbeSide => {
    const ttfts: number[] = [];
    let failed = 0;
    for (const r of results) {
      const errors = (r.errors as string[] | undefined) ?? [];
      (r.ttfts as number[] | undefined)?.forEach((t, i) => {
        if (!errors[i]) ttfts.push(t * 1000);
      });
      failed += Number(r.failed);
    }
    ttfts.sort((a, b) => a - b);
    const q = (p: number): number => {
      if (ttfts.length === 0) return Number.NaN;
      const rank = (ttfts.length - 1) * p;
      const lo = Math.floor(rank);
      const hi = Math.ceil(rank);
      return (ttfts[lo] as number) + ((ttfts[hi] as number) - (ttfts[lo] as number)) * (rank - lo);
    };
    return { requests: ttfts.length, failed, median_ttft_ms: q(0.5), p99_ttft_ms: q(0.99) };
  };
  const pdrouter = side(probe.pdrouter);
  const oracle = side(probe.oracle);
  return {
    pdrouter,
    oracle,
    median_added_ms: pdrouter.median_ttft_ms - oracle.median_ttft_ms,
    p99_added_ms: pdrouter.p99_ttft_ms - oracle.p99_ttft_ms,
  };
}

function msOrUndefined(s: number | undefined): number | undefined {
  return s === undefined ? undefined : s * 1000;
}

interface SeedRow {
  readonly concurrency: number;
  readonly repeats: { pdrouter: RunRecord; oracle: RunRecord }[];
}

interface SeedShape {
  inputLen: number;
  outputLen: number;
  promptsFor: (c: number) => number;
  proxyMemory: { rssMiB: number; peakRssMiB: number };
  probe: ProbeSummary;
}

async function writeSeedResults(
  ctx: ScenarioContext,
  machine: ReturnType<typeof machineInfo>,
  rows: SeedRow[],
  shape: SeedShape,
): Promise<void> {
  const pairSummary = (concurrency: number, pdrouter: RunRecord, oracle: RunRecord) => {
    const p = pdrouter.result;
    const o = oracle.result;
    const tokensK = n(p, 'total_output_tokens') / 1000;
    return {
      concurrency,
      num_prompts: shape.promptsFor(concurrency),
      pdrouter: p,
      oracle: o,
      ratios: {
        output_throughput: n(p, 'output_throughput') / n(o, 'output_throughput'),
        max_output_tokens_per_s: n(p, 'max_output_tokens_per_s') / n(o, 'max_output_tokens_per_s'),
        request_throughput: n(p, 'request_throughput') / n(o, 'request_throughput'),
        median_ttft_overhead_ms: n(p, 'median_ttft_ms') - n(o, 'median_ttft_ms'),
        mean_ttft_overhead_ms: n(p, 'mean_ttft_ms') - n(o, 'mean_ttft_ms'),
        median_tpot: n(p, 'median_tpot_ms') / n(o, 'median_tpot_ms'),
      },
      proxy_self_measured_ttft_share_ms: pdrouter.proxyOverheadMs ?? null,
      proxy_cpu_s: pdrouter.proxyCpuS,
      proxy_cpu_ms_per_1k_output_tokens: tokensK > 0 ? ((pdrouter.proxyCpuS ?? 0) * 1000) / tokensK : null,
      proxy_cpu_cores: (pdrouter.proxyCpuS ?? 0) / n(p, 'duration'),
      sim_cpu_cores: { pdrouter: pdrouter.simCpuS / n(p, 'duration'), oracle: oracle.simCpuS / n(o, 'duration') },
      client_cpu_cores: { pdrouter: n(p, 'client_cpu_utilization'), oracle: n(o, 'client_cpu_utilization') },
    };
  };
  const perConcurrency = rows.map((row) => {
    const pairs = row.repeats.map((r) => pairSummary(row.concurrency, r.pdrouter, r.oracle));
    const first = pairs[0] as ReturnType<typeof pairSummary>;
    const pooled = (side: 'pdrouter' | 'oracle'): number => {
      const tokens = pairs.reduce((a, x) => a + n(x[side], 'total_output_tokens'), 0);
      const seconds = pairs.reduce((a, x) => a + n(x[side], 'duration'), 0);
      return tokens / seconds;
    };
    const medianOf = (values: number[]): number => {
      const v = [...values].sort((a, b) => a - b);
      const mid = Math.floor(v.length / 2);
      return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
    };
    return {
      ...first,
      repeats: pairs.length > 1 ? pairs : undefined,
      pooled: {
        runs: pairs.length,
        pdrouter_output_throughput: pooled('pdrouter'),
        oracle_output_throughput: pooled('oracle'),
        output_throughput_ratio: pooled('pdrouter') / pooled('oracle'),
        min_run_output_throughput_ratio: Math.min(...pairs.map((x) => x.ratios.output_throughput)),
        median_of_median_ttft_ms: {
          pdrouter: medianOf(pairs.map((x) => n(x.pdrouter, 'median_ttft_ms'))),
          oracle: medianOf(pairs.map((x) => n(x.oracle, 'median_ttft_ms'))),
        },
      },
    };
  });
  const throughputOk = perConcurrency.every((r) => r.pooled.output_throughput_ratio >= TARGET_THROUGHPUT_RATIO);
  const throughputOkEveryRun = perConcurrency.every(
    (r) => r.pooled.min_run_output_throughput_ratio >= TARGET_THROUGHPUT_RATIO,
  );
  // With repeats: the median over the runs of each path's median TTFT.
  const ttftOk = perConcurrency.every(
    (r) =>
      r.pooled.median_of_median_ttft_ms.pdrouter - r.pooled.median_of_median_ttft_ms.oracle <
      TARGET_MEDIAN_TTFT_OVERHEAD_MS,
  );
  const probeOk = shape.probe.median_added_ms < TARGET_MEDIAN_TTFT_OVERHEAD_MS;
  const at = (c: number) => perConcurrency.find((r) => r.concurrency === c);
  const c128 = at(128);
  const c256 = at(256);
  const noDrop =
    c128 && c256 ? c256.pooled.pdrouter_output_throughput >= c128.pooled.pdrouter_output_throughput : undefined;
  const targets = {
    throughput_ratio_at_least_0_97_everywhere: throughputOk,
    throughput_ratio_at_least_0_97_in_every_single_run: throughputOkEveryRun,
    median_ttft_overhead_below_1_ms_everywhere: ttftOk,
    median_ttft_overhead_below_1_ms_idle_probe: probeOk,
    no_throughput_drop_128_to_256: noDrop ?? null,
  };

  const json = {
    scenario: 'seed',
    quick: ctx.quick,
    machine,
    command: ctx.command,
    setup: {
      prefill_pods: SEED_PREFILL_PODS,
      decode_pods: SEED_DECODE_PODS,
      policy: 'consistent_hash',
      hash_key_mode: 'vllm-router',
      input_len: shape.inputLen,
      output_len: shape.outputLen,
      processes: 'simulator (16 pods), proxy and each load generator run in separate Node processes',
    },
    per_concurrency: perConcurrency,
    ttft_probe_concurrency_1: shape.probe,
    proxy_memory_mib_after: shape.proxyMemory,
    targets,
    seed_reference_vllm_router_real_gpus: SEED_VLLM_ROUTER,
  };

  const header = [
    'Concurrency',
    'Router',
    'Output Throughput (tok/s)',
    'Peak Output (tok/s)',
    'Request Throughput (req/s)',
    'Mean TTFT (ms)',
    'Median TTFT (ms)',
    'Mean TPOT (ms)',
    'Median TPOT (ms)',
    'Failed',
  ];
  const tableRows: (string | number)[][] = [];
  for (const r of perConcurrency) {
    const pairs = r.repeats ?? [r];
    for (const [k, pair] of pairs.entries()) {
      const run = pairs.length > 1 ? ` #${k + 1}` : '';
      for (const [label, res] of [
        ['pdrouter', pair.pdrouter],
        ['oracle', pair.oracle],
      ] as const) {
        tableRows.push([
          r.concurrency,
          label + run,
          fmt(n(res, 'output_throughput'), 0),
          fmt(n(res, 'max_output_tokens_per_s'), 0),
          fmt(n(res, 'request_throughput')),
          fmt(n(res, 'mean_ttft_ms')),
          fmt(n(res, 'median_ttft_ms')),
          fmt(n(res, 'mean_tpot_ms')),
          fmt(n(res, 'median_tpot_ms')),
          String(res.failed),
        ]);
      }
      const q = pair.ratios;
      tableRows.push([
        r.concurrency,
        `**pdrouter / oracle${run}**`,
        `**${fmt(100 * q.output_throughput, 1)}%**`,
        `${fmt(100 * q.max_output_tokens_per_s, 1)}%`,
        `${fmt(100 * q.request_throughput, 1)}%`,
        `${q.mean_ttft_overhead_ms >= 0 ? '+' : ''}${fmt(q.mean_ttft_overhead_ms)}`,
        `**${q.median_ttft_overhead_ms >= 0 ? '+' : ''}${fmt(q.median_ttft_overhead_ms)}**`,
        '',
        `${fmt(100 * q.median_tpot, 1)}%`,
        '',
      ]);
    }
    if (pairs.length > 1) {
      tableRows.push([
        r.concurrency,
        `**pooled over ${pairs.length} runs**`,
        `**${fmt(100 * r.pooled.output_throughput_ratio, 1)}%**`,
        '',
        '',
        '',
        '',
        '',
        '',
        '',
      ]);
    }
  }
  const cpuRows = perConcurrency.map((r) => [
    r.concurrency,
    r.proxy_self_measured_ttft_share_ms?.p50 === undefined ? 'n/a' : fmt(r.proxy_self_measured_ttft_share_ms.p50, 3),
    r.proxy_self_measured_ttft_share_ms?.p99 === undefined ? 'n/a' : fmt(r.proxy_self_measured_ttft_share_ms.p99, 3),
    fmt(r.proxy_cpu_cores),
    r.proxy_cpu_ms_per_1k_output_tokens === null ? 'n/a' : fmt(r.proxy_cpu_ms_per_1k_output_tokens),
    fmt(r.sim_cpu_cores.pdrouter),
    fmt(r.sim_cpu_cores.oracle),
    fmt(r.client_cpu_cores.pdrouter),
    fmt(r.client_cpu_cores.oracle),
  ]);
  const yes = (v: boolean | null | undefined): string =>
    v === true ? 'met' : v === false ? '**missed**' : 'not measured';
  const md = [
    `# seed: the seed deployment's benchmark on simulated pods${ctx.quick ? ' (--quick)' : ''}`,
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `${SEED_PREFILL_PODS} prefill + ${SEED_DECODE_PODS} decode simulated vLLM pods (seed-calibrated timing), random prompts of ` +
      `${shape.inputLen} tokens in / ${shape.outputLen} out, \`--ignore-eos\`, a fresh x-request-id per request, ` +
      `${shape.promptsFor(0)} prompts per run, /v1/completions. ` +
      '**pdrouter**: the proxy (P/D, consistent_hash, vllm-router hash keys) in its own process. ' +
      '**oracle**: the load generator doing the two P/D legs itself on the same rings (a zero-cost router). ' +
      'Runs are interleaved per concurrency (alternating which goes first), each load generator in its own process.',
    '',
    markdownTable(header, tableRows),
    '',
    '## Targets',
    '',
    `- pdrouter >= ${TARGET_THROUGHPUT_RATIO * 100}% of the oracle's output tok/s at every concurrency` +
      `${perConcurrency[0]?.repeats ? ' (pooled over the runs)' : ''}: ${yes(throughputOk)}`,
    ...(perConcurrency[0]?.repeats ? [`- ... and in every single run: ${yes(throughputOkEveryRun)}`] : []),
    `- median TTFT overhead < ${TARGET_MEDIAN_TTFT_OVERHEAD_MS} ms at every concurrency (A/B of the runs above): ${yes(ttftOk)}`,
    `- median TTFT overhead < ${TARGET_MEDIAN_TTFT_OVERHEAD_MS} ms on an idle fleet (probe below): ${yes(probeOk)} ` +
      `(${shape.probe.median_added_ms >= 0 ? '+' : ''}${fmt(shape.probe.median_added_ms, 3)} ms)`,
    `- no throughput drop from 128 to 256: ${yes(noDrop)}`,
    '',
    `## The proxy's own time and where the CPU went (cores used during each run; this machine has ${machine.cores})`,
    '',
    "The proxy's own TTFT share is its `pdrouter_router_overhead_seconds` histogram over the run (TTFT minus time " +
      'spent waiting on pods: body read, hashing, body building, connection waits, first write), estimated from ' +
      'its buckets as histogram_quantile does. The A/B median TTFT difference above also carries the run-to-run ' +
      'noise of the simulated batches (the order requests reach a pod decides their place in its prefill chunks).',
    '',
    markdownTable(
      [
        'Concurrency',
        "Proxy's own TTFT share p50 (ms)",
        'p99 (ms)',
        'Proxy (cores)',
        'Proxy CPU ms / 1k tokens',
        'Sims via pdrouter',
        'Sims via oracle',
        'Client via pdrouter',
        'Client via oracle',
      ],
      cpuRows,
    ),
    '',
    `Proxy RSS after the runs: ${fmt(shape.proxyMemory.rssMiB, 0)} MiB (peak ${fmt(shape.proxyMemory.peakRssMiB, 0)} MiB).`,
    '',
    '## TTFT probe: one request at a time',
    '',
    `${shape.probe.pdrouter.requests + shape.probe.pdrouter.failed} requests per path (${PROBE_BLOCKS} alternating blocks), ` +
      `${shape.inputLen} tokens in, ${PROBE_OUTPUT_LEN} out, concurrency 1: no batching on the pods, so the TTFT ` +
      'difference is the router (two more loopback hops per leg and its own work), not scheduling noise.',
    '',
    markdownTable(
      ['Path', 'Requests', 'Failed', 'Median TTFT (ms)', 'P99 TTFT (ms)'],
      (['pdrouter', 'oracle'] as const).map((w) => [
        w,
        shape.probe[w].requests,
        shape.probe[w].failed,
        fmt(shape.probe[w].median_ttft_ms, 3),
        fmt(shape.probe[w].p99_ttft_ms, 3),
      ]),
    ),
    '',
    `Added by pdrouter: median ${fmt(shape.probe.median_added_ms, 3)} ms, p99 ${fmt(shape.probe.p99_added_ms, 3)} ms.`,
    '',
    '## Reference: the seed deployment (vllm-router on real GPUs, not this machine)',
    '',
    markdownTable(
      [
        'Concurrency',
        'Output Throughput (tok/s)',
        'Peak Output (tok/s)',
        'Request Throughput (req/s)',
        'Mean TTFT (ms)',
        'Median TTFT (ms)',
        'Mean TPOT (ms)',
        'Median TPOT (ms)',
      ],
      SEED_VLLM_ROUTER.map((s) => [
        s.concurrency,
        fmt(s.outputThroughput, 0),
        fmt(s.peakOutputThroughput, 0),
        fmt(s.requestThroughput),
        fmt(s.meanTtftMs),
        fmt(s.medianTtftMs),
        fmt(s.meanTpotMs),
        fmt(s.medianTpotMs),
      ]),
    ),
    '',
    `![output tok/s and median TTFT vs concurrency](${ctx.name}.svg)`,
  ].join('\n');

  const xs = perConcurrency.map((r) => r.concurrency);
  const seedAt = (c: number) => SEED_VLLM_ROUTER.find((s) => s.concurrency === c);
  const svg = lineChartSvg(
    `pdrouter vs oracle on simulated 8P+8D pods (${machine.cores} cores)${ctx.quick ? ', quick' : ''}`,
    'concurrency',
    xs,
    [
      {
        title: 'Output throughput',
        yLabel: 'tok/s',
        series: [
          {
            label: 'pdrouter',
            color: '#1f77b4',
            values: perConcurrency.map((r) => r.pooled.pdrouter_output_throughput),
          },
          {
            label: 'oracle (zero-cost router)',
            color: '#2ca02c',
            values: perConcurrency.map((r) => r.pooled.oracle_output_throughput),
          },
          {
            label: 'real GPUs (seed)',
            color: '#999999',
            dashed: true,
            values: xs.map((c) => seedAt(c)?.outputThroughput),
          },
        ],
      },
      {
        title: 'Median TTFT',
        yLabel: 'ms',
        series: [
          {
            label: 'pdrouter',
            color: '#1f77b4',
            values: perConcurrency.map((r) => r.pooled.median_of_median_ttft_ms.pdrouter),
          },
          {
            label: 'oracle (zero-cost router)',
            color: '#2ca02c',
            values: perConcurrency.map((r) => r.pooled.median_of_median_ttft_ms.oracle),
          },
          {
            label: 'real GPUs (seed)',
            color: '#999999',
            dashed: true,
            values: xs.map((c) => seedAt(c)?.medianTtftMs),
          },
        ],
      },
    ],
  );
  const files = await writeResults(ctx.name, json, md, { [`${ctx.name}.svg`]: svg });
  ctx.log(`wrote ${files.join(', ')}`);
}
