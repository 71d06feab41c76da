// `bench fleet`: every routing variant on every fleet workload, with 1 proxy and with 2 proxies behind a
// round-robin client, all in distributed mode (nats-server, the Kubernetes API fake, discovery, proxies from
// @pdrouter/discovery/local-cluster). Hit rates are read from the pods and set against the workload's ideal.

import { join } from 'node:path';
import { UsageError } from '@pdrouter/cli';
import { type LocalCluster, type ProxyReplica, startLocalCluster } from '@pdrouter/discovery/local-cluster';
import { runCommand, waitUntil } from '@pdrouter/testkit';
import { SIM_FLAGS } from '@pdrouter/vllm-sim';
import { type Agreement, agreementProbes, measureAgreement } from '../fleet/agreement.ts';
import { type IdealHits, idealPrefixHits } from '../fleet/ideal.ts';
import { countersSince, podCounters, resetPods, roleSummary } from '../fleet/pods.ts';
import { type DecisionCost, type FleetRow, fleetMarkdown, type WorkloadRun } from '../fleet/report.ts';
import { FLEET_VARIANTS, policyImplemented, type Variant } from '../fleet/variants.ts';
import {
  DECODE_PODS,
  fleetWorkloads,
  loadgenArgs,
  PREFILL_PODS,
  rebuildRequests,
  totalPromptTokens,
  type Workload,
} from '../fleet/workloads.ts';
import { runLoadgenProcess } from '../harness/launchers.ts';
import { machineInfo, REPO_ROOT } from '../harness/machine.ts';
import { processCpuSeconds } from '../harness/process-stats.ts';
import { fmt, writeResults } from '../harness/results.ts';
import type { ScenarioContext } from './context.ts';

const PROBES = 48;
const QUICK_PROBES = 16;
/** Deadline for fresh proxies to route on the whole fleet (snapshot from NATS, rings built). */
const RINGS_TIMEOUT_MS = 30_000;
const REPLICA_COUNTS = [1, 2] as const;
const QUICK_VARIANT_IDS: readonly string[] = ['hash-vllm', 'cache-aware', 'load-aware'];

/** Why a workload cannot run on this revision (undefined: it can). */
function workloadMissing(w: Workload): string | undefined {
  const simFlags = new Set<string>(SIM_FLAGS.map((f) => f.name));
  for (const arg of w.simArgs) {
    if (arg.startsWith('--') && !simFlags.has(arg.slice(2))) return `vllm-sim has no ${arg} at this revision`;
  }
  return undefined;
}

/** The items of a comma-separated --workloads / --variants list (all when absent); an unknown name is a usage error. */
function pick<T>(all: readonly T[], idOf: (x: T) => string, ids: readonly string[] | undefined, flag: string): T[] {
  if (ids === undefined) return [...all];
  const unknown = ids.filter((n) => !all.some((x) => idOf(x) === n));
  if (unknown.length > 0)
    throw new UsageError(`--${flag}: unknown ${unknown.join(', ')} (known: ${all.map(idOf).join(', ')})`);
  return all.filter((x) => ids.includes(idOf(x)));
}

async function onWholeFleet(proxy: ProxyReplica): Promise<boolean> {
  const state = await proxy.adminState();
  return state.rings?.prefill.members.length === PREFILL_PODS && state.rings.decode.members.length === DECODE_PODS;
}

async function runVariant(
  cluster: LocalCluster,
  w: Workload,
  variant: Variant,
  replicas: number,
  probesTag: string,
  probeCount: number,
  ideal: IdealHits,
): Promise<FleetRow> {
  const podNames = cluster.simPods.map((p) => p.name);
  await resetPods(cluster.simControl, podNames);
  const proxies = await Promise.all(
    Array.from({ length: replicas }, (_, i) => cluster.startProxy(i, variant.proxyArgs)),
  );
  try {
    await waitUntil(async () => (await Promise.all(proxies.map(onWholeFleet))).every(Boolean), {
      timeoutMs: RINGS_TIMEOUT_MS,
      intervalMs: 50,
      description: `${replicas} proxies routing on ${PREFILL_PODS}P+${DECODE_PODS}D`,
    });
    const before = await podCounters(cluster.simControl);
    const cpuBefore = await Promise.all(proxies.map((p) => processCpuSeconds(p.proc.proc.pid as number)));
    const target =
      replicas === 1
        ? ['--base-url', (proxies[0] as ProxyReplica).url]
        : proxies.flatMap((p) => ['--round-robin-url', p.url]);
    const { result } = await runLoadgenProcess([...target, ...loadgenArgs(w)]);
    const cpuAfter = await Promise.all(proxies.map((p) => processCpuSeconds(p.proc.proc.pid as number)));
    const pods = countersSince(before, await podCounters(cluster.simControl));
    let agreement: Agreement | undefined;
    if (replicas > 1) {
      const probes = agreementProbes(rebuildRequests(w), probeCount, probesTag);
      agreement = await measureAgreement(
        proxies.map((p) => ({ url: p.url, lines: () => p.proc.lines })),
        probes,
      );
    }
    const proxyCpuS = cpuAfter.reduce((a, c, i) => a + c - (cpuBefore[i] as number), 0);
    const outputTokens = Number(result.total_output_tokens);
    return {
      workload: w.name,
      variant: variant.name,
      replicas,
      proxy_args: variant.proxyArgs,
      ideal_hit_rate: ideal.rate,
      prefill: roleSummary(pods, 'prefill'),
      decode: roleSummary(pods, 'decode'),
      agreement,
      proxy_cpu_s: proxyCpuS,
      proxy_cpu_ms_per_1k_output_tokens: outputTokens > 0 ? (1000 * proxyCpuS) / (outputTokens / 1000) : undefined,
      result: {
        completed: Number(result.completed),
        failed: Number(result.failed),
        duration_s: Number(result.duration),
        output_throughput: Number(result.output_throughput),
        request_throughput: Number(result.request_throughput),
        total_input_tokens: Number(result.total_input_tokens),
        total_output_tokens: outputTokens,
        median_ttft_ms: Number(result.median_ttft_ms),
        p99_ttft_ms: Number(result.p99_ttft_ms),
        mean_ttft_ms: Number(result.mean_ttft_ms),
        median_tpot_ms: Number(result.median_tpot_ms),
        p99_tpot_ms: Number(result.p99_tpot_ms),
        client_cpu_ms_per_1k_output_tokens: Number(result.client_cpu_ms_per_1k_output_tokens),
      },
    };
  } finally {
    await Promise.all(proxies.map((p) => p.proc.stop('SIGTERM', 5_000)));
  }
}

const DECISION_COST_TIMEOUT_MS = 5 * 60_000;

async function decisionCostInFreshProcess(quick: boolean): Promise<DecisionCost[]> {
  const cli = join(REPO_ROOT, 'bench/src/fleet/decision-cost-cli.ts');
  const { code, stdout, stderr } = await runCommand(process.execPath, [cli, ...(quick ? ['--quick'] : [])], {
    timeoutMs: DECISION_COST_TIMEOUT_MS,
    cwd: REPO_ROOT,
  });
  if (code !== 0) throw new Error(`decision-cost exited with ${code}: ${stderr.slice(-2000)}`);
  return JSON.parse(stdout) as DecisionCost[];
}

export async function runFleetScenario(ctx: ScenarioContext): Promise<void> {
  const machine = machineInfo();
  const started = Date.now();
  const workloads = pick(fleetWorkloads(ctx.quick), (w) => w.name, ctx.list('workloads'), 'workloads');
  // --quick: the baseline and the two scoring policies only, on smaller workloads (about 4 minutes).
  const defaultVariants = ctx.quick ? FLEET_VARIANTS.filter((v) => QUICK_VARIANT_IDS.includes(v.id)) : FLEET_VARIANTS;
  const wanted = ctx.list('variants');
  const variants = wanted === undefined ? defaultVariants : pick(FLEET_VARIANTS, (v) => v.id, wanted, 'variants');
  const probeCount = ctx.int('probes') ?? (ctx.quick ? QUICK_PROBES : PROBES);
  const runs: WorkloadRun[] = [];
  const missingVariants = variants.filter((v) => !policyImplemented(v.policy));
  for (const v of missingVariants)
    ctx.log(`skipping ${v.name}: policy ${v.policy} is not implemented at this revision`);
  const runnable = variants.filter((v) => policyImplemented(v.policy));

  for (const w of workloads) {
    const requests = rebuildRequests(w);
    const ideal = idealPrefixHits(requests.map((r) => r.tokens));
    const missing = workloadMissing(w);
    if (missing !== undefined) {
      ctx.log(`skipping workload ${w.name}: ${missing}`);
      runs.push({ workload: w, ideal, prompt_tokens: totalPromptTokens(requests), missing, rows: [] });
      continue;
    }
    ctx.log(`${w.name}: ${requests.length} requests, ideal prefix-cache hit rate ${fmt(100 * ideal.rate, 1)}%`);
    const cluster = await startLocalCluster({
      prefill: PREFILL_PODS,
      decode: DECODE_PODS,
      discoveries: 1,
      proxies: 0,
      simArgs: w.simArgs,
      // The access log (debug) names the pods of every request: the agreement probe reads it.
      proxyArgs: ['--log-level', 'debug'],
    });
    const rows: FleetRow[] = [];
    try {
      for (const variant of runnable) {
        for (const replicas of REPLICA_COUNTS) {
          const tag = `agree-${w.name}-${rows.length}`;
          const row = await runVariant(cluster, w, variant, replicas, tag, probeCount, ideal);
          rows.push(row);
          ctx.log(
            `${w.name} / ${variant.name} / ${replicas} proxy: prefill hits ${fmt(100 * row.prefill.hit_rate, 1)}% ` +
              `(${ideal.rate > 0 ? `${fmt((100 * row.prefill.hit_rate) / ideal.rate, 1)}% of ideal` : 'no reuse'}), ` +
              `busiest/mean ${fmt(row.prefill.busiest_over_mean)} / ${fmt(row.decode.busiest_over_mean)}, ` +
              `TTFT p50 ${fmt(row.result.median_ttft_ms)} p99 ${fmt(row.result.p99_ttft_ms)} ms, ` +
              `${fmt(row.result.output_throughput, 0)} tok/s, failed ${row.result.failed}` +
              (row.agreement ? `, agreement ${fmt(100 * row.agreement.rate, 1)}%` : ''),
          );
        }
      }
    } finally {
      await cluster.close();
    }
    runs.push({ workload: w, ideal, prompt_tokens: totalPromptTokens(requests), rows });
  }

  // CPU-bound: measured after the fleet has stopped (nothing competes with it) in a fresh process.
  ctx.log('timing the routing decision per policy at 16 and 1,000 pods');
  const decisionCost = await decisionCostInFreshProcess(ctx.quick);
  const json = {
    scenario: 'fleet',
    quick: ctx.quick,
    machine,
    command: ctx.command,
    wall_s: Math.round((Date.now() - started) / 1000),
    setup: {
      prefill_pods: PREFILL_PODS,
      decode_pods: DECODE_PODS,
      discovery_replicas: 1,
      replica_counts: REPLICA_COUNTS,
      agreement_probes: probeCount,
      pinned: 'nothing (see fleet.md)',
    },
    variants_not_implemented: missingVariants.map((v) => v.name),
    workloads: runs,
    decision_cost: decisionCost,
  };
  const files = await writeResults(ctx.name, json, fleetMarkdown(json, ctx.quick));
  ctx.log(`wrote ${files.join(', ')} in ${json.wall_s} s`);
}
