// The pod-change run the convergence scenarios share (distributed: convergence.ts; one proxy's own watch:
// standalone-discovery.ts): the same pods, the same change plan (convergence-plan.ts) made one change at a
// time in the Kubernetes API fake under load, and the same per-kind table of how long each change took to
// reach the proxies. What a scenario starts and how it sees a change arrive are its own.
import type { KubeApiFake } from '@pdrouter/testkit';
import { sleep } from '@pdrouter/testkit';
import { fmt, markdownTable } from '../harness/results.ts';
import { mean, percentile } from '../loadgen/stats.ts';
import type { ScenarioContext } from './context.ts';
import type { ChangeKind, PlannedChange } from './convergence-plan.ts';

/** Pods of each role on the rings at start; the spares join through scale-up changes. */
export const MEMBERS_PER_ROLE = 8;
export const SPARES_PER_ROLE = 2;
const DEFAULT_CHANGES = 100;
const QUICK_CHANGES = 24;
/** Streams in flight through the proxies during the changes (moderate: the pods are far from busy). */
const DEFAULT_LOAD_CONCURRENCY = 8;
/** After a change has converged, the new rings serve the load for this long before the next change. */
const DEFAULT_DWELL_MS = 300;
export const LOAD_MAX_TOKENS = 16;
export const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
/** A terminating pod keeps serving this long after it left the rings, then its server stops (its grace period). */
export const TERMINATE_GRACE_MS = 1_500;
/** Deadline for one change to reach the proxies (a miss fails the run: something is broken, not slow). */
export const CONVERGENCE_TIMEOUT_MS = 20_000;

export interface ChangeRunSettings {
  changes: number;
  loadConcurrency: number;
  dwellMs: number;
}

/** --changes, --load-concurrency and --dwell-ms, or their defaults (fewer changes with --quick). */
export function changeRunSettings(ctx: ScenarioContext): ChangeRunSettings {
  return {
    changes: ctx.int('changes') ?? (ctx.quick ? QUICK_CHANGES : DEFAULT_CHANGES),
    loadConcurrency: ctx.int('load-concurrency') ?? DEFAULT_LOAD_CONCURRENCY,
    dwellMs: ctx.int('dwell-ms') ?? DEFAULT_DWELL_MS,
  };
}

export interface ChangePod {
  readonly name: string;
  readonly role: string;
}

/** Each role's first MEMBERS_PER_ROLE pods are members, the rest spares. */
export function splitMembers<P extends ChangePod>(pods: readonly P[]): { members: P[]; spares: P[] } {
  const members: P[] = [];
  const spares: P[] = [];
  for (const role of ['prefill', 'decode'] as const) {
    const ofRole = pods.filter((p) => p.role === role);
    members.push(...ofRole.slice(0, MEMBERS_PER_ROLE));
    spares.push(...ofRole.slice(MEMBERS_PER_ROLE));
  }
  return { members, spares };
}

export interface RoleCounts {
  prefill: number;
  decode: number;
}

export interface ChangeRun<P extends ChangePod, S> {
  api: KubeApiFake;
  plan: readonly PlannedChange[];
  /** Every pod of the plan by name. */
  pods: ReadonlyMap<string, P>;
  dwellMs: number;
  /** Creates the pod object again (recreate, scale-up). */
  register(pod: P): void;
  /** Starts or stops the pod's server: a terminated pod stops serving after its grace period. */
  setServing(pod: P, serving: boolean): Promise<void>;
  /**
   * Called right before a change is made (to mark where the proxies' logs are); the function it returns waits
   * until the change reached the proxies, with the expected member counts, and makes the change's sample.
   */
  watch(change: PlannedChange, pod: P, counts: RoleCounts): (madeAtMs: number) => Promise<S>;
}

/**
 * Makes the plan's changes one at a time: each is made in the API fake, awaited, then served on for dwellMs. A
 * terminated pod serves on for TERMINATE_GRACE_MS, then its server stops and its object is deleted; the
 * recreate that follows starts its server before creating the object again.
 */
export async function runChangePlan<P extends ChangePod, S>(run: ChangeRun<P, S>): Promise<S[]> {
  const samples: S[] = [];
  for (const change of run.plan) {
    const pod = run.pods.get(change.pod.name) as P;
    if (change.kind === 'recreate' && run.plan[change.index - 1]?.kind === 'terminate') await run.setServing(pod, true);
    const counts = {
      prefill: change.membersAfter.filter((n) => run.pods.get(n)?.role === 'prefill').length,
      decode: change.membersAfter.filter((n) => run.pods.get(n)?.role === 'decode').length,
    };
    const converged = run.watch(change, pod, counts);
    const t0 = Date.now();
    applyChange(run, change, pod);
    samples.push(await converged(t0));
    if (change.kind === 'terminate') {
      await sleep(TERMINATE_GRACE_MS);
      await run.setServing(pod, false);
      run.api.deletePod(pod.name);
    }
    await sleep(run.dwellMs);
  }
  return samples;
}

function applyChange<P extends ChangePod>(run: ChangeRun<P, unknown>, change: PlannedChange, pod: P): void {
  switch (change.kind) {
    case 'unready':
      run.api.setPodReady(pod.name, false);
      return;
    case 'ready':
      run.api.setPodReady(pod.name, true);
      return;
    case 'delete':
    case 'scale-down':
      run.api.deletePod(pod.name);
      return;
    case 'terminate':
      run.api.markTerminating(pod.name);
      return;
    case 'recreate':
    case 'scale-up':
      run.register(pod);
      return;
  }
}

export interface Distribution {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function distribution(values: readonly number[]): Distribution {
  const round = (v: number) => Math.round(v * 10) / 10;
  return {
    n: values.length,
    min: round(Math.min(...values)),
    mean: round(mean(values)),
    p50: round(percentile(values, 50)),
    p90: round(percentile(values, 90)),
    p99: round(percentile(values, 99)),
    max: round(Math.max(...values)),
  };
}

/** The convergence of every sample and of each change kind. */
export function convergenceByKind(samples: readonly { kind: ChangeKind; convergence_ms: number }[]): {
  all: Distribution;
  kinds: ChangeKind[];
  perKind: Record<string, Distribution>;
} {
  const kinds = [...new Set(samples.map((s) => s.kind))];
  return {
    all: distribution(samples.map((s) => s.convergence_ms)),
    kinds,
    perKind: Object.fromEntries(
      kinds.map((k) => [k, distribution(samples.filter((s) => s.kind === k).map((s) => s.convergence_ms))]),
    ),
  };
}

/** A table row of a distribution: label, N, p50, p90, p99, max. */
export const distributionRow = (label: string, d: Distribution) => [
  label,
  d.n,
  fmt(d.p50, 1),
  fmt(d.p90, 1),
  fmt(d.p99, 1),
  fmt(d.max, 1),
];

/** The markdown table of convergenceByKind: all changes, then each kind. */
export function convergenceTable(by: ReturnType<typeof convergenceByKind>): string {
  return markdownTable(
    ['Change', 'N', 'p50 (ms)', 'p90 (ms)', 'p99 (ms)', 'max (ms)'],
    [distributionRow('**all**', by.all), ...by.kinds.map((k) => distributionRow(k, by.perKind[k] as Distribution))],
  );
}
