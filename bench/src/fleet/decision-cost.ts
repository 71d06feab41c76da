// The routing decision's own cost per request, in-process: what the proxy computes for each request to pick
// its pods (the hash key and its fbiHash for the policies that read it, the routing text's prefix blocks for the scoring policies, the
// Picker's pick, and the index learning the served pod), timed per request on the multi-turn workload's
// conversations, for each policy at 16 and 1,000 pods. The load the policies read is seeded random (in-flight
// legs and pod gauges), the prefix indexes warm (every conversation routed once before timing).
import {
  ConsistentHashRing,
  extractHashKey,
  fbiHash,
  type LoadView,
  type PodSignals,
  type PrefixKey,
  prefixKeyOfPieces,
  prefixRoutingPieces,
} from '@pdrouter/core';
import { buildConfig, Picker, type PodView, type Policy, parseFlags, usesHash } from '@pdrouter/proxy';
import { SeededRandom } from '../loadgen/rng.ts';
import { percentile } from '../loadgen/stats.ts';
import type { DecisionCost } from './report.ts';
import { multiTurnChat, rebuildRequests } from './workloads.ts';

export const DECISION_POLICIES: readonly Policy[] = [
  'consistent_hash',
  'bounded_load',
  'round_robin',
  'cache_aware',
  'load_aware',
];
export const DECISION_POD_COUNTS = [16, 1000] as const;
const TIMED_ROUNDS = 8;
const QUICK_TIMED_ROUNDS = 2;

/** A fleet's load as the policies read it: fixed, seeded, so every policy sees the same numbers. */
function seededLoad(members: readonly string[], seed: number): PodView {
  const rng = new SeededRandom(seed);
  const inFlight = new Map<string, number>();
  const signals = new Map<string, PodSignals>();
  for (const m of members) {
    inFlight.set(m, rng.int(0, 16));
    signals.set(m, { waiting: rng.int(0, 8), running: rng.int(0, 32), kvCacheUsage: rng.int(0, 100) / 100 });
  }
  const view: LoadView = { inFlight: (u) => inFlight.get(u) ?? 0, signals: (u) => signals.get(u) };
  return { ...view, isEjected: () => false };
}

interface Prepared {
  readonly body: Record<string, unknown>;
}

/** Per-request decision time of `policy` over `pods` pods, in µs (one sample per request). */
function timePolicy(
  policy: Policy,
  pods: number,
  requests: readonly Prepared[],
  rounds: number,
): { total: number[]; pickOnly: number[] } {
  const members = Array.from({ length: pods }, (_, i) => `http://10.0.${Math.floor(i / 250)}.${i % 250}:8000`);
  const ring = new ConsistentHashRing(members);
  const config = buildConfig(
    parseFlags([
      '--pd-disaggregation',
      '--policy',
      policy,
      '--prefill',
      members[0] as string,
      '--decode',
      members[0] as string,
    ]),
  );
  const picker = new Picker(policy, {
    boundedLoadFactor: config.boundedLoadFactor,
    scoring: config.routing,
    maxAttempts: config.retry.maxAttempts,
  });
  const view = seededLoad(members, pods);
  const scoring = policy === 'cache_aware' || policy === 'load_aware';
  // As the proxy: only the policies that read the key's hash get one (round_robin never hashes the body,
  // the scoring policies walk from the routing text's first block).
  const hashed = usesHash(policy);
  /** Returns the ns spent in pick + learn (the rest is the key and the prefix blocks). */
  const decide = (body: Record<string, unknown>): bigint => {
    const key = hashed ? extractHashKey(() => undefined, body, { mode: 'affinity' }) : '';
    const hash = hashed ? fbiHash(key) : undefined;
    // As the proxy (prepare-body.ts): the routing text's pieces hashed where they lie.
    const prefix: PrefixKey | undefined = scoring ? prefixKeyOfPieces(prefixRoutingPieces(body) ?? []).key : undefined;
    const t = process.hrtime.bigint();
    const pick = picker.pick(ring, hash, view, key, prefix);
    picker.learn(prefix, pick.order[0] as string);
    return process.hrtime.bigint() - t;
  };
  for (const r of requests) decide(r.body); // warm: the JIT, and the prefix index has seen every conversation
  const total: number[] = [];
  const pickOnly: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const r of requests) {
      const t0 = process.hrtime.bigint();
      const pickNs = decide(r.body);
      total.push(Number(process.hrtime.bigint() - t0) / 1000);
      pickOnly.push(Number(pickNs) / 1000);
    }
  }
  return { total, pickOnly };
}

export function measureDecisionCost(quick: boolean): DecisionCost[] {
  const requests = rebuildRequests(multiTurnChat(quick)).map((r) => ({
    body: { model: 'm', messages: r.messages, stream: true, max_completion_tokens: 64 } as Record<string, unknown>,
  }));
  const out: DecisionCost[] = [];
  for (const pods of DECISION_POD_COUNTS) {
    for (const policy of DECISION_POLICIES) {
      const { total, pickOnly } = timePolicy(policy, pods, requests, quick ? QUICK_TIMED_ROUNDS : TIMED_ROUNDS);
      out.push({
        policy,
        pods,
        requests: total.length,
        mean_us: total.reduce((a, b) => a + b, 0) / total.length,
        p50_us: percentile(total, 50),
        p99_us: percentile(total, 99),
        pick_p50_us: percentile(pickOnly, 50),
        pick_p99_us: percentile(pickOnly, 99),
      });
    }
  }
  return out;
}
