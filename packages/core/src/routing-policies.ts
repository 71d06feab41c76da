// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
// The scoring policies built on the pipeline (docs/design.md §3.6): cache_aware (vllm-router's rule, with
// the ring owner for a cold prefix) and load_aware (a weighted sum of the three scorers). Both return the
// whole decision, scores included, so the proxy counts why a pod won and pdrouterctl explain prints it.
import type { LoadView } from './pod-signals.ts';
import {
  argmax,
  argmin,
  type FilterOptions,
  type FilterReason,
  filterCandidates,
  LOAD_SCALE_FLOOR,
  loadScore,
  orderAfterPick,
  type PodLoad,
  podLoad,
  prefixScore,
  ringScore,
} from './routing-pipeline.ts';

export type ScoringPolicy = 'cache_aware' | 'load_aware';

/** vllm-router's cache_aware knobs (its defaults: 0.3, 64, 1.5). */
export interface CacheAwareOptions {
  /** A match must cover more than this share of the routing text to win. */
  readonly cacheThreshold: number;
  /** Imbalanced needs max - min queue above this ... */
  readonly balanceAbsThreshold: number;
  /** ... and max above this times min. */
  readonly balanceRelThreshold: number;
}

/** load_aware's weights: score = prefix x share matched - load x load score + ring x (1 for the owner). */
export interface LoadAwareWeights {
  readonly prefix: number;
  readonly load: number;
  readonly ring: number;
}

/** vllm-router's defaults for --cache-threshold, --balance-abs-threshold, --balance-rel-threshold. */
export const DEFAULT_CACHE_AWARE_OPTIONS: CacheAwareOptions = Object.freeze({
  cacheThreshold: 0.3,
  balanceAbsThreshold: 64,
  balanceRelThreshold: 1.5,
});

export const DEFAULT_LOAD_AWARE_WEIGHTS: LoadAwareWeights = Object.freeze({ prefix: 1, load: 1, ring: 0.3 });

export interface RouteInput {
  /** The ring walk for the request's key: owner first, then clockwise (every distinct member once). */
  readonly walk: readonly string[];
  readonly load: LoadView;
  readonly filters?: FilterOptions;
  /**
   * Matched prefix characters per pod (PrefixIndex.match), the routing text's length, and `spread`: a
   * number derived from the whole text (the proxy: its last block's chain hash), which cache_aware uses to
   * share equal matches on equal queues between the pods holding them, the same way on every replica.
   */
  readonly prefix?: { readonly matched: ReadonlyMap<string, number>; readonly chars: number; readonly spread?: number };
}

export type DecisionReason =
  /** The pod holding the longest prefix won (cache_aware: above --cache-threshold). */
  | 'prefix_match'
  /** cache_aware: the fleet was imbalanced, the least loaded pod won. load_aware: load outweighed the rest. */
  | 'least_loaded'
  /** The key's ring owner won: no prefix good enough (cache_aware), or the scores favoured it (load_aware). */
  | 'ring_owner'
  /** Every pod failed a filter: the walk as it is (ejected last), as consistent_hash would. */
  | 'all_filtered'
  | 'no_pods';

export const DECISION_REASONS: readonly DecisionReason[] = [
  'prefix_match',
  'least_loaded',
  'ring_owner',
  'all_filtered',
  'no_pods',
];

export interface PodScore extends PodLoad {
  readonly url: string;
  /** Position among the pods that passed the filters, in ring walk order (0: the acting owner). */
  readonly rank: number;
  /** The load scorer, 0..1. */
  readonly load: number;
  readonly prefixChars: number;
  /** The prefix scorer, 0..1. */
  readonly prefix: number;
  /** The ring scorer, 0 or 1. */
  readonly ring: number;
  /** load_aware's weighted sum (cache_aware: undefined). */
  readonly total: number | undefined;
}

export interface RoutingDecision {
  readonly policy: ScoringPolicy;
  readonly reason: DecisionReason;
  readonly winner: string | undefined;
  /** The winner, then the failover order. */
  readonly order: string[];
  /** Pods that passed the filters, in walk order. */
  readonly scores: readonly PodScore[];
  readonly dropped: readonly { readonly url: string; readonly reason: FilterReason }[];
  /** One sentence on why the winner won (built on demand: the hot path never formats it). */
  readonly why: () => string;
}

/** Every candidate's scores in one pass (no per-pod intermediate objects: this runs per request). */
function scoreAll(input: RouteInput, kept: readonly string[], weights?: LoadAwareWeights): PodScore[] {
  const n = kept.length;
  const loads = new Array<PodLoad>(n);
  let max = LOAD_SCALE_FLOOR;
  for (let r = 0; r < n; r++) {
    const l = podLoad(kept[r]!, input.load);
    loads[r] = l;
    if (l.queue > max) max = l.queue;
  }
  const matched = input.prefix?.matched;
  const chars = input.prefix?.chars ?? 0;
  const out = new Array<PodScore>(n);
  for (let rank = 0; rank < n; rank++) {
    const url = kept[rank]!;
    const l = loads[rank]!;
    const prefixChars = matched === undefined || matched.size === 0 ? 0 : (matched.get(url) ?? 0);
    const prefix = prefixScore(prefixChars, chars);
    const ring = ringScore(rank);
    const load = loadScore(l, max);
    const total = weights ? weights.prefix * prefix - weights.load * load + weights.ring * ring : undefined;
    out[rank] = {
      url,
      rank,
      inFlight: l.inFlight,
      queue: l.queue,
      kvCacheUsage: l.kvCacheUsage,
      load,
      prefixChars,
      prefix,
      ring,
      total,
    };
  }
  return out;
}

function unfiltered(policy: ScoringPolicy, input: RouteInput, dropped: RoutingDecision['dropped']): RoutingDecision {
  const winner = input.walk[0];
  return {
    policy,
    reason: winner === undefined ? 'no_pods' : 'all_filtered',
    winner,
    order: [...input.walk],
    scores: [],
    dropped,
    why: () => (winner === undefined ? 'no pods' : `every pod failed a filter: ${winner} (ring owner) is tried first`),
  };
}

/** True when vllm-router would call the fleet imbalanced: max - min > abs and max > rel x min. */
export function isImbalanced(queues: readonly number[], options: CacheAwareOptions): boolean {
  if (queues.length === 0) return false;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const q of queues) {
    if (q < min) min = q;
    if (q > max) max = q;
  }
  return max - min > options.balanceAbsThreshold && max > options.balanceRelThreshold * min;
}

/**
 * vllm-router's cache_aware: an imbalanced fleet goes to the least loaded pod; else the pod with the
 * longest prefix match wins when it covers more than cacheThreshold of the text (equal matches: the less
 * loaded, then the earlier in the walk); else, a cold prefix, the least loaded pod, equal loads going to
 * the earlier pod of the walk (the proxy walks from the routing text's first block, prefixColdHash, so
 * every replica breaks the tie alike). docs/design.md §3.6 says why the cold path reads the load
 * (vllm-router: the least loaded, or the smallest tree) rather than taking the owner outright.
 */
export function cacheAwareDecision(input: RouteInput, options: CacheAwareOptions): RoutingDecision {
  const { kept, dropped } = filterCandidates(input.walk, input.load, input.filters ?? {});
  if (kept.length === 0) return unfiltered('cache_aware', input, dropped);
  const scores = scoreAll(input, kept);
  const queues = scores.map((s) => s.queue);
  let i: number;
  let reason: DecisionReason;
  let why: () => string;
  if (isImbalanced(queues, options)) {
    i = argmin(queues)!;
    reason = 'least_loaded';
    why = () =>
      `imbalanced (queues ${Math.min(...queues)}..${Math.max(...queues)}: difference > ${options.balanceAbsThreshold} and max > ${options.balanceRelThreshold} x min): least loaded`;
  } else {
    const best = longestMatch(scores, input.prefix?.spread ?? 0);
    const rate = scores[best]!.prefix;
    if (rate > options.cacheThreshold) {
      i = best;
      reason = 'prefix_match';
      why = () =>
        `longest prefix match ${scores[best]!.prefixChars}/${input.prefix?.chars ?? 0} characters (${pct(rate)}) > --cache-threshold ${options.cacheThreshold}`;
    } else {
      i = argmin(queues)!;
      const owner = i === 0;
      reason = owner ? 'ring_owner' : 'least_loaded';
      why = () =>
        `best prefix match ${pct(rate)} is not above --cache-threshold ${options.cacheThreshold}: ` +
        (owner ? `ring owner (no pod less loaded, queue ${queues[i]})` : `least loaded (queue ${queues[i]})`);
    }
  }
  const winner = kept[i]!;
  return {
    policy: 'cache_aware',
    reason,
    winner,
    order: orderAfterPick(winner, kept, input.walk),
    scores,
    dropped,
    why,
  };
}

/**
 * The pod with the most matched characters; equal matches go to the shorter queue; equal queues too, to
 * the tied pod `spread` picks (tied pods in walk order, spread modulo their count). Without the spread
 * every new conversation on a system prompt two pods hold would go to the same one of them.
 */
function longestMatch(scores: readonly PodScore[], spread: number): number {
  let best = 0;
  let ties = 1;
  for (let j = 1; j < scores.length; j++) {
    const s = scores[j]!;
    const b = scores[best]!;
    if (s.prefixChars > b.prefixChars || (s.prefixChars === b.prefixChars && s.queue < b.queue)) {
      best = j;
      ties = 1;
    } else if (s.prefixChars === b.prefixChars && s.queue === b.queue) ties++;
  }
  if (ties === 1) return best;
  let k = Math.abs(spread) % ties;
  const b = scores[best]!;
  for (let j = best; j < scores.length; j++) {
    const s = scores[j]!;
    if (s.prefixChars === b.prefixChars && s.queue === b.queue && k-- === 0) return j;
  }
  return best;
}

/** load_aware: the highest prefix x share - load x load score + ring x owner wins; ties by ring walk. */
export function loadAwareDecision(input: RouteInput, weights: LoadAwareWeights): RoutingDecision {
  const { kept, dropped } = filterCandidates(input.walk, input.load, input.filters ?? {});
  if (kept.length === 0) return unfiltered('load_aware', input, dropped);
  const scores = scoreAll(input, kept, weights);
  const i = argmax(scores.map((s) => s.total!))!;
  const w = scores[i]!;
  const bestPrefix = argmax(scores.map((s) => s.prefixChars))!;
  const reason: DecisionReason =
    w.prefixChars > 0 && w.prefixChars === scores[bestPrefix]!.prefixChars
      ? 'prefix_match'
      : i === 0
        ? 'ring_owner'
        : 'least_loaded';
  const why = () =>
    `highest score ${w.total!.toFixed(3)} = ${weights.prefix} x prefix ${w.prefix.toFixed(3)} - ${weights.load} x load ${w.load.toFixed(3)} + ${weights.ring} x ring ${w.ring}`;
  return {
    policy: 'load_aware',
    reason,
    winner: w.url,
    order: orderAfterPick(w.url, kept, input.walk),
    scores,
    dropped,
    why,
  };
}

const pct = (r: number): string => `${(r * 100).toFixed(1)}%`;
