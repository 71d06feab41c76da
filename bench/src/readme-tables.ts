#!/usr/bin/env node
// Refreshes the headline tables of bench/README.md from bench/results/*.json: every block between
// `<!-- table:NAME -->` and `<!-- /table:NAME -->` is regenerated; the prose around them is left alone.
// `node bench/src/readme-tables.ts`
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FleetJson, fleetReadmeBlock } from './fleet/report.ts';
import { REPO_ROOT } from './harness/machine.ts';
import { fmt, markdownTable } from './harness/results.ts';
import { DEFAULT_DEBOUNCE_MS } from './scenarios/convergence-plan.ts';
import { SEED_VLLM_ROUTER } from './scenarios/seed-reference.ts';

/** The parts of our own results files read back here. */
type VllmResult = Record<string, unknown>;
interface Origin {
  command: string;
  machine: { commit: string; date: string };
}
interface SeedPair {
  pdrouter: VllmResult;
  oracle: VllmResult;
  ratios: { output_throughput: number; median_ttft_overhead_ms: number };
  proxy_self_measured_ttft_share_ms: { p50?: number; p99?: number } | null;
}
interface SeedConcurrency extends SeedPair {
  concurrency: number;
  repeats?: SeedPair[];
  pooled: {
    runs: number;
    pdrouter_output_throughput: number;
    oracle_output_throughput: number;
    output_throughput_ratio: number;
  };
  proxy_cpu_cores: number;
  proxy_cpu_ms_per_1k_output_tokens: number | null;
  sim_cpu_cores: { pdrouter: number };
  client_cpu_cores: { pdrouter: number };
}
interface ProbeSide {
  requests: number;
  median_ttft_ms: number;
}
interface SeedJson extends Origin {
  setup: { input_len: number };
  per_concurrency: SeedConcurrency[];
  ttft_probe_concurrency_1?: { pdrouter: ProbeSide; oracle: ProbeSide; median_added_ms: number; p99_added_ms: number };
}
interface OverheadRow {
  concurrency: number;
  path: string;
  relayed_tokens_per_s: number;
  vs_direct_throughput: number;
  added_median_ttft_ms: number;
  added_p99_ttft_ms: number;
  router_cpu_ms_per_1k_tokens: number | null;
  router_rss_mib: number | null;
}
interface OverheadJson extends Origin {
  rows: OverheadRow[];
  cpu_ms_per_1k_tokens_all_concurrencies: Record<string, number>;
  targets: { pdrouter_vs_nginx_cpu_ratio: number; pdrouter_vs_gateway_cpu_ratio: number };
}
interface AffinityJson extends Origin {
  ideal?: { rate: number };
  variants: {
    variant: string;
    of_ideal_prefill?: number;
    prefill: { hit_rate: number; busiest_over_mean: number };
    decode: { hit_rate: number; busiest_over_mean: number };
    result: VllmResult & { multi_turn: { per_turn: { median_ttft_ms: number }[] } };
  }[];
}
interface ConvergenceDistribution {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
interface ConvergenceJson extends Origin {
  measured?: boolean;
  setup?: { debounce_ms: number; load: { concurrency: number } };
  convergence_ms?: ConvergenceDistribution;
  breakdown_ms?: { leader_recompute_to_both_proxies: ConvergenceDistribution | null };
  load?: { requests_ok: number; failed_requests: number; requests_per_s: number };
}
const RESULTS = join(REPO_ROOT, 'bench', 'results');
const README = join(REPO_ROOT, 'bench', 'README.md');
const ROOT_README = join(REPO_ROOT, 'README.md');
function load<T>(name: string): T | undefined {
  const file = join(RESULTS, `${name}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as T) : undefined;
}
const signed = (v: number, digits = 2): string => `${v >= 0 ? '+' : ''}${fmt(v, digits)}`;
const origin = (j: Origin): string => `\`${j.command}\` at commit \`${j.machine.commit}\`, ${j.machine.date}`;

function seedTables(seed: SeedJson): Record<string, string> {
  // Results written before --repeat existed hold one pair per concurrency and no pooled figures.
  for (const c of seed.per_concurrency) {
    c.pooled ??= {
      runs: 1,
      pdrouter_output_throughput: Number(c.pdrouter.output_throughput),
      oracle_output_throughput: Number(c.oracle.output_throughput),
      output_throughput_ratio: c.ratios.output_throughput,
    };
  }
  const rows: (string | number)[][] = [];
  for (const c of seed.per_concurrency) {
    for (const side of ['pdrouter', 'oracle'] as const) {
      const pairs: SeedPair[] = c.repeats ?? [c];
      const med = (key: string): number => {
        const v = pairs.map((p) => Number(p[side][key])).sort((a, b) => a - b);
        const m = Math.floor(v.length / 2);
        return v.length % 2 ? (v[m] as number) : ((v[m - 1] as number) + (v[m] as number)) / 2;
      };
      rows.push([
        c.concurrency,
        side,
        fmt(side === 'pdrouter' ? c.pooled.pdrouter_output_throughput : c.pooled.oracle_output_throughput, 0),
        fmt(med('max_output_tokens_per_s'), 0),
        fmt(med('request_throughput')),
        fmt(med('mean_ttft_ms')),
        fmt(med('median_ttft_ms')),
        fmt(med('mean_tpot_ms')),
        fmt(med('median_tpot_ms')),
        side === 'pdrouter' ? `**${fmt(100 * c.pooled.output_throughput_ratio, 1)}%**` : '',
      ]);
    }
    const s = SEED_VLLM_ROUTER.find((x) => x.concurrency === c.concurrency);
    if (s) {
      rows.push([
        c.concurrency,
        '*vllm-router, real GPUs (seed)*',
        `*${fmt(s.outputThroughput, 0)}*`,
        `*${fmt(s.peakOutputThroughput, 0)}*`,
        `*${fmt(s.requestThroughput)}*`,
        `*${fmt(s.meanTtftMs)}*`,
        `*${fmt(s.medianTtftMs)}*`,
        `*${fmt(s.meanTpotMs)}*`,
        `*${fmt(s.medianTpotMs)}*`,
        '',
      ]);
    }
  }
  const runs = seed.per_concurrency[0]?.pooled?.runs ?? 1;
  const main = `${origin(seed)}; ${runs} interleaved run${runs > 1 ? 's' : ''} per path and concurrency (output tok/s pooled over them, the other columns their median):\n\n${markdownTable(
    [
      'Concurrency',
      'Router',
      'Output tok/s',
      'Peak output tok/s',
      'Req/s',
      'Mean TTFT (ms)',
      'Median TTFT (ms)',
      'Mean TPOT (ms)',
      'Median TPOT (ms)',
      'pdrouter / oracle output tok/s',
    ],
    rows,
  )}`;
  const perRun = markdownTable(
    [
      'Concurrency',
      'pdrouter / oracle output tok/s per run',
      'Pooled',
      'Median TTFT pdrouter - oracle per run (ms)',
      "Proxy's own TTFT share p50 / p99 (ms)",
    ],
    seed.per_concurrency.map((c) => {
      const pairs: SeedPair[] = c.repeats ?? [c];
      const own = pairs.map((p) => p.proxy_self_measured_ttft_share_ms);
      return [
        c.concurrency,
        pairs.map((p) => `${fmt(100 * p.ratios.output_throughput, 1)}%`).join(' / '),
        `**${fmt(100 * c.pooled.output_throughput_ratio, 1)}%**`,
        pairs.map((p) => signed(p.ratios.median_ttft_overhead_ms)).join(' / '),
        own.map((o) => `${fmt(o?.p50, 3)} / ${fmt(o?.p99, 3)}`).join(', '),
      ];
    }),
  );
  const probe = seed.ttft_probe_concurrency_1;
  const probeText = probe
    ? `Concurrency 1 (${probe.pdrouter.requests} requests per path, ${seed.setup.input_len} tokens in, no batching on the pods): median TTFT pdrouter ${fmt(probe.pdrouter.median_ttft_ms, 3)} ms, oracle ${fmt(probe.oracle.median_ttft_ms, 3)} ms: **${signed(probe.median_added_ms, 3)} ms** added at the median, ${signed(probe.p99_added_ms)} ms at p99.`
    : 'No probe in this result.';
  const cpu = markdownTable(
    ['Concurrency', 'Proxy (cores)', 'Proxy CPU ms / 1k tokens', 'Pods (cores)', 'Load generator (cores)'],
    seed.per_concurrency.map((c) => [
      c.concurrency,
      fmt(c.proxy_cpu_cores),
      fmt(c.proxy_cpu_ms_per_1k_output_tokens ?? undefined),
      fmt(c.sim_cpu_cores.pdrouter),
      fmt(c.client_cpu_cores.pdrouter),
    ]),
  );
  return { 'seed-main': main, 'seed-runs': perRun, 'seed-probe': probeText, 'seed-cpu': cpu };
}

function overheadTable(o: OverheadJson): string {
  const order = ['direct', 'pdrouter', 'node-relay', 'nginx', 'portkey'];
  const rows = [...o.rows].sort(
    (a, b) => a.concurrency - b.concurrency || order.indexOf(a.path) - order.indexOf(b.path),
  );
  const t = o.cpu_ms_per_1k_tokens_all_concurrencies;
  const x = o.targets;
  const relay = t['node-relay'];
  return `${origin(o)}:\n\n${markdownTable(
    [
      'Concurrency',
      'Path',
      'Relayed tok/s',
      'vs direct',
      'Added median TTFT (ms)',
      'Added P99 TTFT (ms)',
      'Router CPU ms / 1k tokens',
      'RSS (MiB)',
    ],
    rows.map((r) => [
      r.concurrency,
      r.path,
      fmt(r.relayed_tokens_per_s, 0),
      `${fmt(100 * r.vs_direct_throughput, 1)}%`,
      r.path === 'direct' ? '' : fmt(r.added_median_ttft_ms),
      r.path === 'direct' ? '' : fmt(r.added_p99_ttft_ms),
      r.router_cpu_ms_per_1k_tokens == null ? '' : fmt(r.router_cpu_ms_per_1k_tokens),
      r.router_rss_mib == null ? '' : fmt(r.router_rss_mib, 0),
    ]),
  )}\n\nCPU per 1k relayed tokens over all concurrencies: pdrouter ${fmt(t.pdrouter)} ms, ${relay === undefined ? '' : `minimal Node relay ${fmt(relay)} ms, `}nginx ${fmt(t.nginx)} ms, Portkey ${fmt(t.portkey)} ms; pdrouter = **${fmt(x.pdrouter_vs_nginx_cpu_ratio)}x nginx**, **${fmt(x.pdrouter_vs_gateway_cpu_ratio)}x Portkey**.`;
}

function affinityTable(a: AffinityJson): string {
  const ideal = a.ideal === undefined ? '' : ` (ideal hit rate: ${fmt(100 * a.ideal.rate, 1)}%)`;
  return `${origin(a)}${ideal}:\n\n${markdownTable(
    [
      'Variant',
      'Prefill hit rate',
      'Of ideal',
      'Decode hit rate',
      'Median TTFT (ms)',
      'Median TTFT per turn (ms)',
      'Busiest prefill pod / mean',
      'Busiest decode pod / mean',
      'Failed',
    ],
    a.variants.map((v) => [
      v.variant,
      `${fmt(100 * v.prefill.hit_rate, 1)}%`,
      v.of_ideal_prefill === undefined ? 'n/a' : `${fmt(100 * v.of_ideal_prefill, 1)}%`,
      `${fmt(100 * v.decode.hit_rate, 1)}%`,
      fmt(Number(v.result.median_ttft_ms)),
      v.result.multi_turn.per_turn.map((t) => fmt(t.median_ttft_ms, 1)).join(' / '),
      fmt(v.prefill.busiest_over_mean),
      fmt(v.decode.busiest_over_mean),
      String(v.result.failed),
    ]),
  )}`;
}

/** The production-default run first, then any comparison runs with another debounce (convergence-debounce-N). */
function convergenceTable(runs: readonly ConvergenceJson[]): string | undefined {
  const measured = runs.filter((r) => r.measured && r.convergence_ms && r.setup && r.load);
  if (measured.length === 0) return undefined;
  const ms = (v: number) => fmt(v, 1);
  return `${measured.map((r) => `${origin(r)}`).join('; ')}:\n\n${markdownTable(
    [
      'Discovery debounce',
      'Changes',
      'p50 (ms)',
      'p90 (ms)',
      'p99 (ms)',
      'max (ms)',
      'Leader recompute -> both proxies p50 / p99 (ms)',
      'Requests during the changes (ok / failed)',
    ],
    measured.map((r) => {
      const c = r.convergence_ms as ConvergenceDistribution;
      const setup = r.setup as NonNullable<ConvergenceJson['setup']>;
      const load = r.load as NonNullable<ConvergenceJson['load']>;
      const fan = r.breakdown_ms?.leader_recompute_to_both_proxies;
      return [
        `${setup.debounce_ms} ms${setup.debounce_ms === DEFAULT_DEBOUNCE_MS ? ' (default)' : ''}`,
        String(c.n),
        `**${ms(c.p50)}**`,
        ms(c.p90),
        `**${ms(c.p99)}**`,
        ms(c.max),
        fan ? `${ms(fan.p50)} / ${ms(fan.p99)}` : 'n/a',
        `${load.requests_ok} / **${load.failed_requests}** (${setup.load.concurrency} streams, ${fmt(load.requests_per_s, 0)} req/s)`,
      ];
    }),
  )}`;
}

function ringTable(): string | undefined {
  const file = join(RESULTS, 'ring.md');
  if (!existsSync(file)) return undefined;
  const md = readFileSync(file, 'utf8');
  const start = md.indexOf('| measure');
  const meta = md.split('\n').find((l) => l.startsWith('Commit:'));
  return start < 0 ? undefined : `${meta?.trim() ?? ''}\n\n${md.slice(start).split('\n\n')[0]?.trim()}`;
}

interface BreakerRow {
  name: string;
  breaker: boolean;
  retries: boolean;
  failed_per_run: number[];
  broken_pod_decode_errors_per_run: number[];
  median_of_runs: { p50_e2el_ms: number; p99_e2el_ms: number };
}
interface BreakerJson extends Origin {
  setup: { prompts: number; repeats: number; broken_pod: string };
  variants: BreakerRow[];
}

/** The breaker result: the table of bench/README.md, and its last line is the root README's headline. */
function breakerBlock(b: BreakerJson): string | undefined {
  const find = (breaker: boolean, retries: boolean) =>
    b.variants.find((v) => v.breaker === breaker && v.retries === retries);
  const on = find(true, true);
  const off = find(false, true);
  const onNoRetry = find(true, false);
  const offNoRetry = find(false, false);
  if (!on || !off || !onNoRetry || !offNoRetry) return undefined;
  const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
  const runs = b.setup.repeats;
  const table = markdownTable(
    [
      'Proxy',
      'Failed requests (per run)',
      `Decode legs failed on ${b.setup.broken_pod} (per run)`,
      'E2E p50 (ms)',
      'E2E p99 (ms)',
    ],
    b.variants.map((v) => [
      v.name,
      `${v.failed_per_run.join(' / ')} of ${b.setup.prompts}`,
      v.broken_pod_decode_errors_per_run.join(' / '),
      fmt(v.median_of_runs.p50_e2el_ms),
      fmt(v.median_of_runs.p99_e2el_ms),
    ]),
  );
  const headline =
    `A decode pod whose /health passes while inference fails (\`node bench/src/main.ts breaker\`, ${runs} runs of ${b.setup.prompts} requests): ` +
    `with the circuit breaker, ${fmt(sum(on.broken_pod_decode_errors_per_run) / runs, 0)} decode legs per run reach it ` +
    `instead of ${fmt(sum(off.broken_pod_decode_errors_per_run) / runs, 0)} with \`--disable-circuit-breaker\`; ` +
    `E2E latency p50 ${fmt(on.median_of_runs.p50_e2el_ms, 0)} vs ${fmt(off.median_of_runs.p50_e2el_ms, 0)} ms, ` +
    `p99 **${fmt(on.median_of_runs.p99_e2el_ms, 0)} vs ${fmt(off.median_of_runs.p99_e2el_ms, 0)} ms** ` +
    `(no request failed either way: retries moved them); with \`--disable-retries\` the clients see ` +
    `**${fmt(sum(onNoRetry.failed_per_run) / runs, 0)} vs ${fmt(sum(offNoRetry.failed_per_run) / runs, 0)}** failed requests per run.`;
  return `${origin(b)}:\n\n${table}\n\n${headline}`;
}

const blocks: Record<string, string | undefined> = {};
const seed = load<SeedJson>('seed');
if (seed) Object.assign(blocks, seedTables(seed));
const overhead = load<OverheadJson>('overhead');
if (overhead) blocks.overhead = overheadTable(overhead);
const paced = load<OverheadJson>('overhead-seed-timing');
if (paced) blocks['overhead-seed-timing'] = overheadTable(paced);
const affinity = load<AffinityJson>('affinity');
if (affinity) blocks.affinity = affinityTable(affinity);
const fleet = load<FleetJson>('fleet');
if (fleet) blocks.fleet = fleetReadmeBlock(fleet);
blocks.ring = ringTable();
const convergenceRuns = [
  load<ConvergenceJson>('convergence'),
  ...readdirSync(RESULTS)
    .filter((f) => /^convergence-debounce-\d+\.json$/.test(f))
    .sort((a, b) => Number(b.match(/\d+/)?.[0]) - Number(a.match(/\d+/)?.[0]))
    .map((f) => load<ConvergenceJson>(f.replace(/\.json$/, ''))),
].filter((r): r is ConvergenceJson => r !== undefined);
blocks.convergence = convergenceTable(convergenceRuns);
const breaker = load<BreakerJson>('breaker');
if (breaker) blocks.breaker = breakerBlock(breaker);

let readme = readFileSync(README, 'utf8');
for (const [name, content] of Object.entries(blocks)) {
  if (content === undefined) continue;
  const open = `<!-- table:${name} -->`;
  const close = `<!-- /table:${name} -->`;
  const a = readme.indexOf(open);
  const b = readme.indexOf(close);
  if (a < 0 || b < a) continue;
  readme = `${readme.slice(0, a + open.length)}\n${content}\n${readme.slice(b)}`;
}
writeFileSync(README, readme);
// The root README quotes the headline: the seed table and the relay-cost summaries.
const headline = [
  blocks['seed-main'],
  blocks['seed-probe'],
  ...(
    [
      ['Zero think time (`node bench/src/main.ts overhead`)', blocks.overhead],
      ['One token per chunk at seed pace (`overhead --timing seed`)', blocks['overhead-seed-timing']],
    ] as const
  ).map(([label, b]) => (b === undefined ? undefined : `${label}: ${b.split('\n').at(-1)}`)),
  blocks.breaker?.split('\n').at(-1),
  fleet === undefined
    ? undefined
    : `Fleet-aware routing (\`node bench/src/main.ts fleet\`), against issue 13's targets: ${fleetReadmeBlock(fleet).split('\n\n').slice(0, 2).join('\n\n')}`,
].filter((b): b is string => b !== undefined);
const rootOpen = '<!-- readme:bench:start -->';
const rootClose = '<!-- readme:bench:end -->';
const root = readFileSync(ROOT_README, 'utf8');
const ra = root.indexOf(rootOpen);
const rb = root.indexOf(rootClose);
if (ra >= 0 && rb > ra && headline.length > 0) {
  writeFileSync(ROOT_README, `${root.slice(0, ra + rootOpen.length)}\n\n${headline.join('\n\n')}\n\n${root.slice(rb)}`);
}

process.stdout.write(
  `refreshed ${Object.keys(blocks)
    .filter((k) => blocks[k] !== undefined)
    .join(', ')} in ${README}\n`,
);
