import { idealPrefixHits, ofIdeal } from '../fleet/ideal.ts';
import { podCounters, roleSummary } from '../fleet/pods.ts';
import {
  BOUNDED_LOAD,
  CACHE_AWARE,
  CONSISTENT_HASH_AFFINITY,
  CONSISTENT_HASH_VLLM,
  LOAD_AWARE,
  policyImplemented,
  ROUND_ROBIN,
  type Variant,
} from '../fleet/variants.ts';
import {
  DECODE_PODS,
  loadgenArgs,
  multiTurnChat,
  PREFILL_PODS,
  rebuildRequests,
  type Workload,
} from '../fleet/workloads.ts';
import { runLoadgenProcess, startPdProxyProcess, startSimFleetProcess } from '../harness/launchers.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import type { ScenarioContext } from './context.ts';

/** The policies compared here; one this revision does not implement is listed as not run. */
const VARIANTS: readonly Variant[] = [
  CONSISTENT_HASH_VLLM,
  CONSISTENT_HASH_AFFINITY,
  BOUNDED_LOAD,
  CACHE_AWARE,
  LOAD_AWARE,
  ROUND_ROBIN,
];

/** The multi-turn workload of the fleet benchmark, with --sessions / --turns applied. */
function affinityWorkload(ctx: ScenarioContext): Workload {
  const base = multiTurnChat(ctx.quick);
  if (base.shape.kind !== 'multi-turn') throw new Error('the affinity workload is multi-turn');
  const shape = {
    ...base.shape,
    sessions: ctx.int('sessions') ?? base.shape.sessions,
    turns: ctx.int('turns') ?? base.shape.turns,
  };
  return { ...base, shape };
}

export async function runAffinityScenario(ctx: ScenarioContext): Promise<void> {
  const machine = machineInfo();
  const workload = affinityWorkload(ctx);
  const shape = workload.shape as Extract<Workload['shape'], { kind: 'multi-turn' }>;
  const { sessions, turns } = shape;
  const ideal = idealPrefixHits(rebuildRequests(workload).map((r) => r.tokens));
  ctx.log(`ideal prefix-cache hit rate (perfect knowledge, unbounded caches): ${fmt(100 * ideal.rate, 1)}%`);
  const notImplemented = VARIANTS.filter((v) => !policyImplemented(v.policy));
  for (const v of notImplemented) ctx.log(`skipping ${v.name}: policy ${v.policy} is not implemented at this revision`);
  const rows = [];
  for (const variant of VARIANTS.filter((v) => policyImplemented(v.policy))) {
    // Fresh pods per variant: empty caches and zeroed counters, so variants do not warm each other.
    const sim = await startSimFleetProcess(['--prefill', String(PREFILL_PODS), '--decode', String(DECODE_PODS)]);
    try {
      const proxy = await startPdProxyProcess(sim, variant.proxyArgs);
      try {
        const { result } = await runLoadgenProcess(['--base-url', proxy.url, ...loadgenArgs(workload)]);
        // Fresh pods: their counters are this variant's.
        const pods = await podCounters(sim.control);
        const row = {
          variant: variant.name,
          of_ideal_prefill: ofIdeal(roleSummary(pods, 'prefill').hit_rate, ideal),
          of_ideal_decode: ofIdeal(roleSummary(pods, 'decode').hit_rate, ideal),
          note: variant.note,
          proxy_args: variant.proxyArgs,
          prefill: roleSummary(pods, 'prefill'),
          decode: roleSummary(pods, 'decode'),
          result,
        };
        rows.push(row);
        ctx.log(
          `${variant.name}: prefill hit rate ${fmt(100 * row.prefill.hit_rate, 1)}% (${fmt(100 * (row.of_ideal_prefill ?? 0), 1)}% of ideal), median TTFT ${fmt(Number(result.median_ttft_ms))} ms, ` +
            `prefill max/mean ${fmt(row.prefill.busiest_over_mean)}, failed ${result.failed}`,
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
      system_prompts: shape.systemPrompts,
      system_prompt_len: shape.systemPromptLen,
      sessions,
      turns,
      user_len: shape.userLen,
      output_len: shape.outputLen,
      concurrent_sessions: shape.concurrentSessions,
      request_ids: 'a fresh x-request-id on every request, as vllm bench serve sends',
    },
    ideal: {
      ...ideal,
      definition: 'perfect knowledge, unbounded caches, computed from the workload (src/fleet/ideal.ts)',
    },
    variants_not_implemented: notImplemented.map((v) => v.name),
    variants: rows,
  };
  const md = [
    `# affinity: prefix-cache hits, TTFT and load spread per routing policy${ctx.quick ? ' (--quick)' : ''}`,
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `${PREFILL_PODS} prefill + ${DECODE_PODS} decode simulated pods (seed timing, prefix cache of whole ${16}-token blocks), ` +
      `${sessions} chat sessions of ${turns} turns, ${shape.systemPrompts} system prompts of ${shape.systemPromptLen} tokens shared ` +
      `between sessions, ${shape.userLen}-token user messages, ${shape.outputLen}-token answers carried into the next turn, ` +
      `${shape.concurrentSessions} sessions at a time, a fresh x-request-id per request. Fresh pods for every variant. ` +
      'Hit rate = vllm:prefix_cache_hits_total / vllm:prefix_cache_queries_total summed over the pods of a role; ' +
      "spread = the busiest pod's requests (vllm:request_success_total) over the mean. " +
      `**Ideal** = ${fmt(100 * ideal.rate, 1)}%: the hit rate of a router with perfect knowledge and unbounded caches, ` +
      "computed from the workload itself (every conversation rebuilt offline with the simulator's answer rule; hits = " +
      'the leading whole blocks any earlier request sent, never the last prompt token). "Of ideal" = hit rate / ideal.',
    '',
    markdownTable(
      [
        'Variant',
        'Prefill hit rate',
        'Prefill of ideal',
        'Decode hit rate',
        'Decode of ideal',
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
        r.of_ideal_prefill === undefined ? 'n/a' : `${fmt(100 * r.of_ideal_prefill, 1)}%`,
        `${fmt(100 * r.decode.hit_rate, 1)}%`,
        r.of_ideal_decode === undefined ? 'n/a' : `${fmt(100 * r.of_ideal_decode, 1)}%`,
        fmt(Number(r.result.mean_ttft_ms)),
        fmt(Number(r.result.median_ttft_ms)),
        fmt(Number(r.result.p99_ttft_ms)),
        perTurn(r.result)
          .map((v) => fmt(v, 1))
          .join(' / '),
        fmt(r.prefill.busiest_over_mean),
        fmt(r.decode.busiest_over_mean),
        String(r.result.failed),
      ]),
    ),
    '',
    ...rows.map((r) => `- **${r.variant}**: ${r.note}.`),
    ...(notImplemented.length > 0
      ? ['', `Not implemented at this revision (not run): ${notImplemented.map((v) => v.name).join(', ')}.`]
      : []),
  ].join('\n');
  const files = await writeResults(ctx.name, json, md);
  ctx.log(`wrote ${files.join(', ')}`);
}
