// fleet.md from the fleet result: one table per workload, then the issue's targets, each met or not met.
import { type MachineInfo, machineMarkdown } from '../harness/machine.ts';
import { fmt, markdownTable } from '../harness/results.ts';
import type { Agreement } from './agreement.ts';
import type { IdealHits } from './ideal.ts';
import type { RoleSummary } from './pods.ts';
import { CACHE_AWARE, CONSISTENT_HASH_VLLM, FLEET_VARIANTS, LOAD_AWARE } from './variants.ts';
import { SLOW_DECODE_PODS, type Workload } from './workloads.ts';

export interface FleetRow {
  readonly workload: string;
  readonly variant: string;
  readonly replicas: number;
  readonly proxy_args: readonly string[];
  readonly ideal_hit_rate: number;
  readonly prefill: RoleSummary;
  readonly decode: RoleSummary;
  readonly agreement: Agreement | undefined;
  readonly proxy_cpu_s: number;
  readonly proxy_cpu_ms_per_1k_output_tokens: number | undefined;
  readonly result: {
    readonly completed: number;
    readonly failed: number;
    readonly duration_s: number;
    readonly output_throughput: number;
    readonly request_throughput: number;
    readonly total_input_tokens: number;
    readonly total_output_tokens: number;
    readonly median_ttft_ms: number;
    readonly p99_ttft_ms: number;
    readonly mean_ttft_ms: number;
    readonly median_tpot_ms: number;
    readonly p99_tpot_ms: number;
    readonly client_cpu_ms_per_1k_output_tokens: number;
  };
}

export interface WorkloadRun {
  readonly workload: Workload;
  readonly ideal: IdealHits;
  readonly prompt_tokens: number;
  /** Why the workload did not run at this revision. */
  readonly missing?: string;
  readonly rows: readonly FleetRow[];
}

export interface FleetJson {
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly command: string;
  readonly wall_s: number;
  readonly variants_not_implemented: readonly string[];
  readonly workloads: readonly WorkloadRun[];
  readonly decision_cost?: readonly DecisionCost[];
}

/** The routing decision's own cost per policy and fleet size (from the decision-cost micro-benchmark). */
export interface DecisionCost {
  readonly policy: string;
  readonly pods: number;
  readonly requests: number;
  readonly mean_us: number;
  readonly p50_us: number;
  readonly p99_us: number;
  /** pick + index update only (without the hash key and the prefix blocks). */
  readonly pick_p50_us: number;
  readonly pick_p99_us: number;
}

const pct = (v: number | undefined, digits = 1): string => (v === undefined ? 'n/a' : `${fmt(100 * v, digits)}%`);
const ofIdeal = (rate: number, ideal: number): number | undefined => (ideal > 0 ? rate / ideal : undefined);

function find(json: FleetJson, workload: string, variant: string, replicas: number): FleetRow | undefined {
  return json.workloads
    .find((w) => w.workload.name === workload)
    ?.rows.find((r) => r.variant === variant && r.replicas === replicas);
}

interface TargetLine {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | undefined;
}

/** The targets of the issue, computed from the rows; undefined `met` = not measured at this revision. */
export function targets(json: FleetJson): TargetLine[] {
  const lines: TargetLine[] = [];
  const ca1 = find(json, 'multi-turn', CACHE_AWARE.name, 1);
  const ca2 = find(json, 'multi-turn', CACHE_AWARE.name, 2);
  if (ca1 === undefined) {
    lines.push({
      target: 'cache_aware >= 95% of the ideal hit rate on multi-turn, busiest/mean <= 1.2',
      measured: 'not measured',
      met: undefined,
    });
  } else {
    const f = ofIdeal(ca1.prefill.hit_rate, ca1.ideal_hit_rate) ?? 0;
    const spread = Math.max(ca1.prefill.busiest_over_mean, ca1.decode.busiest_over_mean);
    lines.push({
      target: 'cache_aware >= 95% of the ideal hit rate on multi-turn, busiest/mean <= 1.2 (1 proxy)',
      measured: `${pct(f)} of ideal (${pct(ca1.prefill.hit_rate)} of ${pct(ca1.ideal_hit_rate)}), busiest/mean ${fmt(spread)}`,
      met: f >= 0.95 && spread <= 1.2,
    });
  }
  if (ca1 === undefined || ca2 === undefined) {
    lines.push({
      target: 'cache_aware with 2 replicas within 3 points of 1 replica',
      measured: 'not measured',
      met: undefined,
    });
  } else {
    const d = 100 * (ca1.prefill.hit_rate - ca2.prefill.hit_rate);
    lines.push({
      target: 'cache_aware with 2 replicas within 3 points of 1 replica (multi-turn, prefill hit rate)',
      measured: `${pct(ca2.prefill.hit_rate)} vs ${pct(ca1.prefill.hit_rate)} (${fmt(-d, 1)} points)`,
      met: Math.abs(d) <= 3,
    });
  }
  const la = find(json, 'heterogeneous', LOAD_AWARE.name, 1);
  const chH = find(json, 'heterogeneous', CONSISTENT_HASH_VLLM.name, 1);
  if (la === undefined || chH === undefined) {
    lines.push({
      target: 'heterogeneous fleet: load_aware p99 TTFT >= 30% below consistent_hash at equal throughput',
      measured: 'not measured',
      met: undefined,
    });
  } else {
    const cut = 1 - la.result.p99_ttft_ms / chH.result.p99_ttft_ms;
    const tput = la.result.output_throughput / chH.result.output_throughput - 1;
    lines.push({
      target: 'heterogeneous fleet: load_aware p99 TTFT >= 30% below consistent_hash at equal throughput (1 proxy)',
      measured: `${fmt(la.result.p99_ttft_ms, 0)} vs ${fmt(chH.result.p99_ttft_ms, 0)} ms (${pct(cut)} lower), output tok/s ${tput >= 0 ? '+' : ''}${pct(tput)}; slow pods' share of decode requests ${pct(slowPodsShare(la))} vs ${pct(slowPodsShare(chH))}`,
      // Equal throughput: the same offered load served, not less (finishing the queue sooner is not a loss).
      met: cut >= 0.3 && tput >= -0.02,
    });
  }
  const chR = find(json, 'random', CONSISTENT_HASH_VLLM.name, 1);
  for (const v of [CACHE_AWARE, LOAD_AWARE]) {
    const r = find(json, 'random', v.name, 1);
    if (r === undefined || chR === undefined) {
      lines.push({
        target: `random prompts: ${v.name} within 2% of consistent_hash's throughput`,
        measured: 'not measured',
        met: undefined,
      });
      continue;
    }
    const d = r.result.output_throughput / chR.result.output_throughput - 1;
    lines.push({
      target: `random prompts: ${v.name} within 2% of consistent_hash's throughput (1 proxy)`,
      measured: `${fmt(r.result.output_throughput, 0)} vs ${fmt(chR.result.output_throughput, 0)} tok/s (${d >= 0 ? '+' : ''}${pct(d)})`,
      met: d >= -0.02,
    });
  }
  const costs = (json.decision_cost ?? []).filter((c) => c.pods === 16);
  if (costs.length === 0) {
    lines.push({ target: 'decision cost p99 <= 50 µs at 16 pods', measured: 'not measured', met: undefined });
  } else {
    const worst = costs.reduce((a, c) => (c.p99_us > a.p99_us ? c : a));
    lines.push({
      target: 'decision cost p99 <= 50 µs at 16 pods (every policy)',
      measured: `worst ${worst.policy}: ${fmt(worst.p99_us, 1)} µs (pick alone ${fmt(worst.pick_p99_us, 1)} µs, the rest the hash key or the prefix blocks)`,
      met: costs.every((c) => c.p99_us <= 50),
    });
  }
  return lines;
}

function workloadLine(run: WorkloadRun): string {
  const s = run.workload.shape;
  const shape =
    s.kind === 'multi-turn'
      ? `${s.sessions} chat sessions of ${s.turns} turns, ${s.systemPrompts} system prompt${s.systemPrompts > 1 ? 's' : ''} of ${s.systemPromptLen} tokens, ${s.userLen}-token user messages, ${s.outputLen}-token answers carried into the next turn, ${s.concurrentSessions} sessions at a time`
      : `${s.numPrompts} completions of ${s.prefixLen > 0 ? `${s.prefixLen} shared + ` : ''}${s.inputLen} tokens in / ${s.outputLen} out, ` +
        (s.requestRate === undefined
          ? `all at once, at most ${s.maxConcurrency} in flight`
          : `${s.requestRate} req/s (gamma arrivals, shape ${s.burstiness ?? 1}), at most ${s.maxConcurrency} in flight`);
  const sim = run.workload.simArgs.length > 0 ? `; sim flags \`${run.workload.simArgs.join(' ')}\`` : '';
  return `${shape}${sim}. Ideal prefix-cache hit rate ${pct(run.ideal.rate)} (${run.ideal.hitTokens.toLocaleString('en-US')} of ${run.ideal.queryTokens.toLocaleString('en-US')} prompt tokens).`;
}

/** The half-speed decode pods' share of the decode requests (an even spread gives them 2 of 8). */
export function slowPodsShare(r: FleetRow): number {
  const counts = Object.entries(r.decode.requests_per_pod);
  const total = counts.reduce((a, [, n]) => a + n, 0);
  const slow = counts
    .filter(([name]) => (SLOW_DECODE_PODS as readonly string[]).includes(name))
    .reduce((a, [, n]) => a + n, 0);
  return total > 0 ? slow / total : 0;
}

function workloadTable(run: WorkloadRun): string {
  const slowColumn = run.workload.simArgs.includes('--pod-speed');
  return markdownTable(
    [
      'Variant',
      'Proxies',
      'Prefill hits',
      'Of ideal',
      'Decode hits of ideal',
      'Busiest/mean (P / D)',
      'TTFT p50 (ms)',
      'TTFT p99 (ms)',
      'TPOT p50 (ms)',
      'Output tok/s',
      'Proxy CPU ms / 1k tok',
      'Failed',
      'Agreement',
      ...(slowColumn ? ["Slow decode pods' share"] : []),
    ],
    run.rows.map((r) => [
      r.variant,
      String(r.replicas),
      pct(r.prefill.hit_rate),
      pct(ofIdeal(r.prefill.hit_rate, r.ideal_hit_rate)),
      pct(ofIdeal(r.decode.hit_rate, r.ideal_hit_rate)),
      `${fmt(r.prefill.busiest_over_mean)} / ${fmt(r.decode.busiest_over_mean)}`,
      fmt(r.result.median_ttft_ms, 1),
      fmt(r.result.p99_ttft_ms, 1),
      fmt(r.result.median_tpot_ms),
      fmt(r.result.output_throughput, 0),
      fmt(r.proxy_cpu_ms_per_1k_output_tokens, 1),
      String(r.result.failed),
      r.agreement === undefined ? '—' : `${pct(r.agreement.rate)} (${r.agreement.same_both}/${r.agreement.compared})`,
      ...(slowColumn ? [pct(slowPodsShare(r))] : []),
    ]),
  );
}

export function fleetMarkdown(json: FleetJson, quick: boolean): string {
  const out = [
    `# fleet: routing variants on fleet workloads, 1 and 2 proxy replicas${quick ? ' (--quick)' : ''}`,
    '',
    machineMarkdown(json.machine, json.command),
    `- Wall time: ${json.wall_s < 120 ? `${json.wall_s} s` : `${Math.round(json.wall_s / 60)} min`}`,
    '',
    'Distributed mode on one machine (`@pdrouter/discovery/local-cluster`): nats-server, the Kubernetes API fake, ' +
      '8 prefill + 8 decode simulated pods (seed timing, one vllm-sim process), 1 discovery replica, and 1 or 2 proxies ' +
      "(`--pd-disaggregation`, the variant's flags, `--log-level debug` for the access log). With 2 proxies the load " +
      'generator is a round-robin client (`--round-robin-url` per replica: request i goes to replica i mod 2, so a ' +
      "conversation's turns alternate between replicas). Every variant starts on cold pods (each pod stopped and started: " +
      'empty prefix cache) and fresh proxies; counters are differences over the run. Nothing is pinned with taskset: ' +
      "the 2 cores are shared with other work, so no process can have a core to itself; the client's and the " +
      "proxies' CPU are reported instead.",
    '',
    '- **Ideal**: the hit rate of a router with perfect knowledge and unbounded caches, computed from the workload ' +
      "itself (`src/fleet/ideal.ts`): every request rebuilt offline (multi-turn answers with the simulator's answer " +
      'rule), hits = the leading whole 16-token blocks already sent by any earlier request, never the last prompt token ' +
      '(as the pods count). "Of ideal" = measured prefill hit rate / ideal.',
    "- **Busiest/mean**: the busiest pod's requests over the mean of its role (prefill / decode).",
    '- **Agreement** (2 proxies): after the run, replayed requests spread over the workload (same body, same ' +
      'x-request-id, one output token, 8 probes in flight at a time) go to replica 0 then replica 1; the share for which both chose the same prefill ' +
      "and the same decode pod, read from each replica's access log.",
    '- **Proxy CPU**: user + system CPU of the proxy processes (both replicas) over the run, per 1,000 output tokens.',
    '',
    '## Targets (issue 13)',
    '',
    markdownTable(
      ['Target', 'Measured', 'Met'],
      targets(json).map((t) => [
        t.target,
        t.measured,
        t.met === undefined ? 'not measured' : t.met ? 'met' : 'not met',
      ]),
    ),
    '',
  ];
  for (const run of json.workloads) {
    out.push(`## ${run.workload.title}`, '', workloadLine(run), '');
    if (run.missing !== undefined) out.push(`Not run at this revision: ${run.missing}.`, '');
    else out.push(workloadTable(run), '');
  }
  out.push(
    '## Routing decision cost',
    '',
    'In a fresh process after the runs (`src/fleet/decision-cost.ts`), on the multi-turn conversations: per request, for the policies that ' +
      "read it, the affinity hash key and its fbiHash, for cache_aware / load_aware the routing text's prefix blocks, the proxy's `Picker.pick` over a " +
      'ring of N pods with seeded random in-flight counts and pod gauges, and the index learning the chosen pod; ' +
      'the indexes warm (every conversation routed once before timing). Timed with process.hrtime per request on ' +
      'the shared machine, so p99 includes scheduling noise.',
    '',
  );
  if (json.decision_cost === undefined || json.decision_cost.length === 0) {
    out.push('Not measured at this revision.', '');
  } else {
    out.push(decisionCostTable(json.decision_cost), '');
  }
  if (json.variants_not_implemented.length > 0) {
    out.push(`Not implemented at this revision (not run): ${json.variants_not_implemented.join(', ')}.`, '');
  }
  out.push(
    '## Variants',
    '',
    ...FLEET_VARIANTS.map((v) => `- **${v.name}** (\`${v.proxyArgs.join(' ')}\`): ${v.note}.`),
  );
  return out.join('\n');
}

/** The targets table alone (for the READMEs). */
export function targetsTable(json: FleetJson): string {
  return markdownTable(
    ['Target', 'Measured', 'Met'],
    targets(json).map((t) => [t.target, t.measured, t.met === undefined ? 'not measured' : t.met ? 'met' : 'not met']),
  );
}

/** README block: where the result comes from, the targets, and the multi-turn table. */
export function fleetReadmeBlock(json: FleetJson): string {
  const origin = `\`${json.command}\` at commit \`${json.machine.commit}\`, ${json.machine.date} (${Math.round(json.wall_s / 60)} min)`;
  const multiTurn = json.workloads.find((w) => w.workload.name === 'multi-turn');
  const table =
    multiTurn === undefined || multiTurn.rows.length === 0
      ? ''
      : `\n\n${multiTurn.workload.title}, ideal hit rate ${pct(multiTurn.ideal.rate)}:\n\n${markdownTable(
          [
            'Variant',
            'Proxies',
            'Prefill hits',
            'Of ideal',
            'Busiest/mean (P / D)',
            'TTFT p50 / p99 (ms)',
            'Agreement',
          ],
          multiTurn.rows.map((r) => [
            r.variant,
            String(r.replicas),
            pct(r.prefill.hit_rate),
            pct(ofIdeal(r.prefill.hit_rate, r.ideal_hit_rate)),
            `${fmt(r.prefill.busiest_over_mean)} / ${fmt(r.decode.busiest_over_mean)}`,
            `${fmt(r.result.median_ttft_ms, 1)} / ${fmt(r.result.p99_ttft_ms, 1)}`,
            r.agreement === undefined ? '—' : pct(r.agreement.rate),
          ]),
        )}`;
  return `${origin}:\n\n${targetsTable(json)}${table}`;
}

/** The decision-cost table (also `bench decision-cost`'s). */
export function decisionCostTable(rows: readonly DecisionCost[]): string {
  return markdownTable(
    ['Policy', 'Pods', 'Requests timed', 'Mean (µs)', 'p50 (µs)', 'p99 (µs)', 'Pick only p50 / p99 (µs)'],
    rows.map((c) => [
      c.policy,
      String(c.pods),
      c.requests.toLocaleString('en-US'),
      fmt(c.mean_us, 2),
      fmt(c.p50_us, 2),
      fmt(c.p99_us, 2),
      `${fmt(c.pick_p50_us, 2)} / ${fmt(c.pick_p99_us, 2)}`,
    ]),
  );
}
