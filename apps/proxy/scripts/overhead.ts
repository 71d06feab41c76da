// First overhead figure of the proxy: the same simulated fleet, the same load, measured directly (the load
// generator runs both P/D legs itself, "oracle-pd") and through the proxy, alternating, in one run.
// Processes: the sim CLI (pods), the proxy (main.ts), the bench load generator (vllm bench serve flags).
//
//   node apps/proxy/scripts/overhead.ts [--concurrency 32,64] [--prompts-per-level 4] [--input-len 1000]
//                                       [--output-len 200] [--pods 8] [--rounds 1]
//
// Prints a Markdown table: output tok/s and median TTFT per concurrency, direct vs router, and the ratios.
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FlagSpec, parseOrExit, parseScriptFlags, splitList, UsageError } from '@pdrouter/cli';
import { matchingSamples, runCommand, stopAllProcesses } from '@pdrouter/testkit';
import { LOCAL_LISTEN_FLAGS, proxyListening, REPO_ROOT, spawnProxyProcess, startSimProcess } from '../test/helpers.ts';

const LOADGEN = join(REPO_ROOT, 'bench', 'src', 'loadgen.ts');
/** One load-generator run may take this long before the script gives up. */
const RUN_TIMEOUT_MS = 600_000;

const PROGRAM = 'node apps/proxy/scripts/overhead.ts';
const FLAGS = [
  {
    name: 'concurrency',
    type: 'list',
    default: ['32', '64'],
    valueName: 'N[,N...]',
    help: 'Concurrency levels, one run each (comma-separated or several values).',
  },
  { name: 'prompts-per-level', type: 'int', min: 1, default: 4, help: 'Prompts per level, times the concurrency.' },
  { name: 'input-len', type: 'int', min: 1, default: 1000, help: 'Input tokens per prompt.' },
  { name: 'output-len', type: 'int', min: 1, default: 200, help: 'Output tokens per prompt.' },
  { name: 'pods', type: 'int', min: 1, default: 8, help: 'Prefill pods, and as many decode pods.' },
  { name: 'rounds', type: 'int', min: 1, default: 1, help: 'Direct/router pairs per level.' },
] as const satisfies readonly FlagSpec[];

const values = parseScriptFlags(
  {
    program: PROGRAM,
    intro: [
      'Usage: node apps/proxy/scripts/overhead.ts [flags]',
      'The same simulated fleet and load, measured directly and through the proxy, alternating; prints a Markdown table.',
    ],
  },
  FLAGS,
);
const levels = parseOrExit(PROGRAM, () =>
  values.concurrency.flatMap(splitList).map((c) => {
    const n = Number(c);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--concurrency ${c} is not a positive integer`);
    return n;
  }),
);

interface Result {
  output_throughput: number;
  median_ttft_ms: number;
  mean_ttft_ms: number;
  median_tpot_ms: number;
  completed: number;
  failed: number;
}

const outDir = await mkdtemp(join(tmpdir(), 'pdrouter-overhead-'));

async function startSim(pods: number): Promise<{ prefill: string[]; decode: string[] }> {
  const sim = await startSimProcess(['--prefill', String(pods), '--decode', String(pods)]);
  return { prefill: sim.urls('prefill'), decode: sim.urls('decode') };
}

interface Histogram {
  buckets: [number, number][];
  sum: number;
  count: number;
}

/** The proxy's own-overhead histogram for /v1/completions, from its /metrics. */
async function overheadHistogram(metricsUrl: string): Promise<Histogram> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) })).text();
  const route = { route: '/v1/completions' };
  const one = (name: string) => matchingSamples(text, name, route)[0]?.value ?? 0;
  return {
    buckets: matchingSamples(text, 'pdrouter_router_overhead_seconds_bucket', route).map((b) => [
      Number(b.labels.le),
      b.value,
    ]),
    sum: one('pdrouter_router_overhead_seconds_sum'),
    count: one('pdrouter_router_overhead_seconds_count'),
  };
}

/** Median (interpolated within its bucket) and mean of the observations between two scrapes, in ms. */
function overheadBetween(a: Histogram, b: Histogram): { medianMs: number; meanMs: number } {
  const count = b.count - a.count;
  let prevLe = 0;
  let prevCum = 0;
  let median = Number.NaN;
  for (const [i, [le, total]] of b.buckets.entries()) {
    const cum = total - (a.buckets[i]?.[1] ?? 0);
    if (cum >= count / 2) {
      const upper = Number.isFinite(le) ? le : prevLe;
      median = prevLe + ((count / 2 - prevCum) / Math.max(1, cum - prevCum)) * (upper - prevLe);
      break;
    }
    prevLe = le;
    prevCum = cum;
  }
  return { medianMs: median * 1000, meanMs: ((b.sum - a.sum) / Math.max(1, count)) * 1000 };
}

async function startProxy(prefill: string[], decode: string[]): Promise<{ url: string; metricsUrl: string }> {
  const args = [
    '--pd-disaggregation',
    ...prefill.flatMap((u) => ['--prefill', u]),
    ...decode.flatMap((u) => ['--decode', u]),
    '--policy',
    'consistent_hash',
    ...LOCAL_LISTEN_FLAGS,
    '--log-level',
    'info',
  ];
  return proxyListening(await spawnProxyProcess(args));
}

async function runLoadgen(name: string, args: string[]): Promise<Result> {
  const run = await runCommand(
    process.execPath,
    [LOADGEN, ...args, '--save-result', '--result-dir', outDir, '--result-filename', `${name}.json`, '--quiet'],
    { timeoutMs: RUN_TIMEOUT_MS },
  );
  if (run.code !== 0) throw new Error(`${name}: load generator exited with ${run.code}: ${run.stderr.slice(-2000)}`);
  return JSON.parse(readFileSync(join(outDir, `${name}.json`), 'utf8')) as Result;
}

async function main(): Promise<void> {
  const pods = values.pods;
  const { prefill, decode } = await startSim(pods);
  const { url: routerUrl, metricsUrl } = await startProxy(prefill, decode);
  const common = [
    '--backend',
    'openai',
    '--dataset-name',
    'random',
    '--random-input-len',
    String(values['input-len']),
    '--random-output-len',
    String(values['output-len']),
    '--ignore-eos',
  ];
  const rows: string[] = [
    `Sim: ${pods} prefill + ${pods} decode pods (default timing), input ${values['input-len']} / output ${values['output-len']} tokens, ${values['prompts-per-level']} x concurrency prompts per level.`,
    '',
    '| Concurrency | Direct tok/s | Router tok/s | Router / direct | Direct median TTFT (ms) | Router median TTFT (ms) | Difference (ms) | Router own share of TTFT, median / mean (ms) | Failed (direct/router) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of levels) {
    for (let round = 0; round < values.rounds; round++) {
      const n = String(c * values['prompts-per-level']);
      // Distinct prompt seeds: the same prompts twice would hit the prefill pods' prefix cache the second
      // time. The same request ids: both runs key the ring on x-request-id (vllm-router mode), so every
      // request lands on the same pods in both and the comparison is not skewed by hash lumpiness.
      const load = (seed: number) => [
        '--request-id-prefix',
        `overhead-${c}-${round}-`,
        ...common,
        '--num-prompts',
        n,
        '--max-concurrency',
        String(c),
        '--seed',
        String(seed),
      ];
      const direct = await runLoadgen(`direct-${c}-${round}`, [
        ...load(1000 + 2 * round),
        '--base-url',
        routerUrl,
        '--backend-mode',
        'oracle-pd',
        ...prefill.flatMap((u) => ['--prefill', u]),
        ...decode.flatMap((u) => ['--decode', u]),
      ]);
      const before = await overheadHistogram(metricsUrl);
      const routed = await runLoadgen(`router-${c}-${round}`, [...load(1001 + 2 * round), '--base-url', routerUrl]);
      const own = overheadBetween(before, await overheadHistogram(metricsUrl));
      rows.push(
        `| ${c} | ${direct.output_throughput.toFixed(0)} | ${routed.output_throughput.toFixed(0)} | ${((100 * routed.output_throughput) / direct.output_throughput).toFixed(1)}% | ${direct.median_ttft_ms.toFixed(2)} | ${routed.median_ttft_ms.toFixed(2)} | ${(routed.median_ttft_ms - direct.median_ttft_ms).toFixed(2)} | ${own.medianMs.toFixed(3)} / ${own.meanMs.toFixed(3)} | ${direct.failed}/${routed.failed} |`,
      );
      process.stderr.write(`${rows.at(-1)}\n`);
    }
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}

try {
  await main();
} finally {
  await stopAllProcesses();
}
