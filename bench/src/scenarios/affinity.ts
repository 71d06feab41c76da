import { metricSum } from '@pdrouter/testkit';
import { freePort } from '../harness/free-port.ts';
import {
  runLoadgenProcess,
  type SimFleetProcess,
  startProxyProcess,
  startSimFleetProcess,
} from '../harness/launchers.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import type { ScenarioContext } from './context.ts';

/** Seed-shaped P/D fleet with seed timing, so prefill cost (and what the prefix cache saves) is realistic. */
const PREFILL_PODS = 8;
const DECODE_PODS = 8;
/** The workload: chat sessions sharing system prompts, each conversation growing turn by turn. */
const SYSTEM_PROMPTS = 16;
const SYSTEM_PROMPT_LEN = 800;
const SESSIONS = 96;
const QUICK_SESSIONS = 32;
const TURNS = 4;
const QUICK_TURNS = 3;
const USER_LEN = 64;
const OUTPUT_LEN = 64;
const CONCURRENT_SESSIONS = 32;
const METRICS_TIMEOUT_MS = 10_000;

interface Variant {
  readonly name: string;
  readonly proxyArgs: readonly string[];
  readonly note: string;
}

const VARIANTS: readonly Variant[] = [
  {
    name: 'consistent_hash, vllm-router keys',
    proxyArgs: ['--policy', 'consistent_hash', '--hash-key-mode', 'vllm-router'],
    note: 'vllm-router key order: the fresh x-request-id of every request is the key, so turns scatter',
  },
  {
    name: 'consistent_hash, affinity keys',
    proxyArgs: ['--policy', 'consistent_hash', '--hash-key-mode', 'affinity'],
    note: 'affinity keys: system + first user message, so a conversation stays on its pods',
  },
  {
    name: 'bounded_load, affinity keys',
    proxyArgs: ['--policy', 'bounded_load', '--hash-key-mode', 'affinity'],
    note: 'affinity keys, no pod above 1.25 x the mean in-flight (default --bounded-load-factor)',
  },
  { name: 'round_robin', proxyArgs: ['--policy', 'round_robin'], note: 'no affinity at all' },
];

interface PodCounters {
  readonly url: string;
  readonly role: string;
  readonly hits: number;
  readonly queries: number;
  readonly requests: number;
}

async function podCounters(sim: SimFleetProcess): Promise<PodCounters[]> {
  return Promise.all(
    sim.pods.map(async (pod) => {
      const res = await fetch(`${pod.url}/metrics`, { signal: AbortSignal.timeout(METRICS_TIMEOUT_MS) });
      const text = await res.text();
      return {
        url: pod.url,
        role: pod.role,
        hits: metricSum(text, 'vllm:prefix_cache_hits_total'),
        queries: metricSum(text, 'vllm:prefix_cache_queries_total'),
        requests: metricSum(text, 'vllm:request_success_total'),
      };
    }),
  );
}

function roleSummary(pods: readonly PodCounters[], role: string) {
  const mine = pods.filter((p) => p.role === role);
  const hits = mine.reduce((a, p) => a + p.hits, 0);
  const queries = mine.reduce((a, p) => a + p.queries, 0);
  const requests = mine.map((p) => p.requests);
  const mean = requests.reduce((a, b) => a + b, 0) / Math.max(1, requests.length);
  return {
    prefix_cache_hits: hits,
    prefix_cache_queries: queries,
    hit_rate: queries > 0 ? hits / queries : 0,
    requests_per_pod: requests,
    max_over_mean_requests: mean > 0 ? Math.max(...requests) / mean : 0,
  };
}

export async function runAffinityScenario(ctx: ScenarioContext): Promise<void> {
  const machine = machineInfo();
  const sessions = ctx.int('sessions') ?? (ctx.quick ? QUICK_SESSIONS : SESSIONS);
  const turns = ctx.int('turns') ?? (ctx.quick ? QUICK_TURNS : TURNS);
  const rows = [];
  for (const variant of VARIANTS) {
    // Fresh pods per variant: empty caches and zeroed counters, so variants do not warm each other.
    const sim = await startSimFleetProcess(['--prefill', String(PREFILL_PODS), '--decode', String(DECODE_PODS)]);
    try {
      const proxy = await startProxyProcess([
        '--pd-disaggregation',
        ...variant.proxyArgs,
        '--host',
        '127.0.0.1',
        '--port',
        String(await freePort()),
        '--prometheus-port',
        '0',
        ...sim.prefill.flatMap((u) => ['--prefill', u]),
        ...sim.decode.flatMap((u) => ['--decode', u]),
      ]);
      try {
        const { result } = await runLoadgenProcess([
          '--base-url',
          proxy.url,
          '--backend',
          'openai-chat',
          '--dataset-name',
          'multi-turn',
          '--multi-turn-system-prompts',
          String(SYSTEM_PROMPTS),
          '--multi-turn-system-prompt-len',
          String(SYSTEM_PROMPT_LEN),
          '--multi-turn-sessions',
          String(sessions),
          '--multi-turn-turns',
          String(turns),
          '--multi-turn-user-len',
          String(USER_LEN),
          '--random-output-len',
          String(OUTPUT_LEN),
          '--max-concurrency',
          String(CONCURRENT_SESSIONS),
          '--seed',
          '1',
        ]);
        const pods = await podCounters(sim);
        const row = {
          variant: variant.name,
          note: variant.note,
          proxy_args: variant.proxyArgs,
          prefill: roleSummary(pods, 'prefill'),
          decode: roleSummary(pods, 'decode'),
          result,
        };
        rows.push(row);
        ctx.log(
          `${variant.name}: prefill hit rate ${fmt(100 * row.prefill.hit_rate, 1)}%, median TTFT ${fmt(Number(result.median_ttft_ms))} ms, ` +
            `prefill max/mean ${fmt(row.prefill.max_over_mean_requests)}, failed ${result.failed}`,
        );
      } finally {
        await proxy.child.stop();
      }
    } finally {
      await sim.child.stop();
    }
  }

  const perTurn = (r: Record<string, unknown>) =>
    ((r.multi_turn as { per_turn?: { median_ttft_ms: number }[] } | undefined)?.per_turn ?? []).map(
      (t) => t.median_ttft_ms,
    );
  const json = {
    scenario: 'affinity',
    quick: ctx.quick,
    machine,
    command: ctx.command,
    setup: {
      prefill_pods: PREFILL_PODS,
      decode_pods: DECODE_PODS,
      system_prompts: SYSTEM_PROMPTS,
      system_prompt_len: SYSTEM_PROMPT_LEN,
      sessions,
      turns,
      user_len: USER_LEN,
      output_len: OUTPUT_LEN,
      concurrent_sessions: CONCURRENT_SESSIONS,
      request_ids: 'a fresh x-request-id on every request, as vllm bench serve sends',
    },
    variants: rows,
  };
  const md = [
    `# affinity: prefix-cache hits, TTFT and load spread per routing policy${ctx.quick ? ' (--quick)' : ''}`,
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `${PREFILL_PODS} prefill + ${DECODE_PODS} decode simulated pods (seed timing, prefix cache of whole ${16}-token blocks), ` +
      `${sessions} chat sessions of ${turns} turns, ${SYSTEM_PROMPTS} system prompts of ${SYSTEM_PROMPT_LEN} tokens shared ` +
      `between sessions, ${USER_LEN}-token user messages, ${OUTPUT_LEN}-token answers carried into the next turn, ` +
      `${CONCURRENT_SESSIONS} sessions at a time, a fresh x-request-id per request. Fresh pods for every variant. ` +
      'Hit rate = vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total summed over the pods of a role; ' +
      "spread = the busiest pod's requests (vllm:request_success_total) over the mean.",
    '',
    markdownTable(
      [
        'Variant',
        'Prefill hit rate',
        'Decode hit rate',
        'Mean TTFT (ms)',
        'Median TTFT (ms)',
        'P99 TTFT (ms)',
        'Median TTFT per turn (ms)',
        'Prefill max/mean',
        'Decode max/mean',
        'Failed',
      ],
      rows.map((r) => [
        r.variant,
        `${fmt(100 * r.prefill.hit_rate, 1)}%`,
        `${fmt(100 * r.decode.hit_rate, 1)}%`,
        fmt(Number(r.result.mean_ttft_ms)),
        fmt(Number(r.result.median_ttft_ms)),
        fmt(Number(r.result.p99_ttft_ms)),
        perTurn(r.result)
          .map((v) => fmt(v, 1))
          .join(' / '),
        fmt(r.prefill.max_over_mean_requests),
        fmt(r.decode.max_over_mean_requests),
        String(r.result.failed),
      ]),
    ),
    '',
    ...rows.map((r) => `- **${r.variant}**: ${r.note}.`),
  ].join('\n');
  const files = await writeResults(ctx.name, json, md);
  ctx.log(`wrote ${files.join(', ')}`);
}
