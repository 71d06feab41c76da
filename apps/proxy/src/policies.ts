// Policies turn a ring (and the request's hash) into an ordered list of pods to try: the first is the
// choice, the rest is the failover order. Ejected pods go to the end (tried only when nothing else is
// left), so ejection changes the walk and never the ring. cache_aware and load_aware score the pods with
// core's routing pipeline, from this role's prefix index and the load the LoadView reports.
import {
  type CacheAwareOptions,
  type ConsistentHashRing,
  cacheAwareDecision,
  type LoadAwareWeights,
  type LoadView,
  loadAwareDecision,
  PrefixIndex,
  type PrefixKey,
  pickBoundedLoad,
  prefixColdHash,
  type RouteInput,
  type RoutingDecision,
  rendezvousOrder,
  type U64,
} from '@pdrouter/core';
import type { Policy } from './config.ts';

/** The load a policy reads (fleet-wide or this replica's), and which pods passive health ejected. */
export interface PodView extends LoadView {
  isEjected(url: string): boolean;
}

/**
 * Policies that read the request's hash key. The scoring policies do not: they walk the ring from the
 * routing text's first block (prefixColdHash), and read the key's hash only where a request has no
 * routing text (a forwarded route), to spread those.
 */
export const usesHash = (p: Policy): boolean =>
  p === 'consistent_hash' || p === 'bounded_load' || p === 'rendezvous_hash';

/** Policies that keep a prefix index and need the request's routing text. */
export const usesPrefix = (p: Policy): boolean => p === 'cache_aware' || p === 'load_aware';

export interface ScoringSettings {
  readonly cacheAware: CacheAwareOptions;
  readonly loadAware: LoadAwareWeights;
  readonly maxTreeChars: number;
}

export interface PickerOptions {
  readonly boundedLoadFactor: number;
  readonly random?: () => number;
  /** Required by cache_aware and load_aware. */
  readonly scoring?: ScoringSettings;
  /** Pods a request may try (1 + failovers): a consistent_hash walk is never cut shorter. */
  readonly maxAttempts?: number;
}

/** A pick: the order to try, and for the scoring policies the decision with its scores. */
export interface Pick {
  readonly order: string[];
  readonly decision?: RoutingDecision;
}

export class Picker {
  private readonly policy: Policy;
  private readonly boundedLoadFactor: number;
  private readonly random: () => number;
  private readonly walkLimit: number;
  private readonly scoring: ScoringSettings | undefined;
  /** The pods that served each prefix, for cache_aware and load_aware. */
  readonly index: PrefixIndex | undefined;
  private rr = 0;

  constructor(policy: Policy, options: PickerOptions) {
    this.policy = policy;
    this.boundedLoadFactor = options.boundedLoadFactor;
    this.random = options.random ?? Math.random;
    this.walkLimit = Math.max(FAILOVER_WALK_LIMIT, options.maxAttempts ?? 0);
    if (usesPrefix(policy)) {
      if (!options.scoring) throw new Error(`${policy} needs scoring settings`);
      this.scoring = options.scoring;
      this.index = new PrefixIndex({ maxChars: options.scoring.maxTreeChars });
    }
  }

  get name(): Policy {
    return this.policy;
  }

  /** Teaches the index that `url` served a request with this routing text (after any failover). */
  learn(prefix: PrefixKey | undefined, url: string): void {
    if (prefix !== undefined) this.index?.record(prefix, url);
  }

  /**
   * The order to try the pods in, with the decision for the scoring policies. `hash` is required by the
   * hash policies, `key` (what was hashed) by rendezvous_hash, `prefix` by the scoring ones, which walk
   * the ring from the routing text's first block (the same walk on every replica for every request that
   * starts with the same text: the candidates, the ring owner, and the cold path's order on equal loads)
   * and read `hash`, when given, only for a request with no routing text.
   */
  pick(ring: ConsistentHashRing, hash: U64 | undefined, pods: PodView, key = '', prefix?: PrefixKey): Pick {
    if (this.scoring === undefined || ring.members.length === 0) return { order: this.order(ring, hash, pods, key) };
    const matched = prefix !== undefined && this.index ? this.index.match(prefix) : undefined;
    const start =
      prefix !== undefined && prefix.hashes.length > 0 ? prefixColdHash(prefix) : (hash ?? prefixColdHash(NO_TEXT));
    const walk = candidateWalk(ring, start, matched);
    const input: RouteInput = {
      walk,
      load: pods,
      filters: { isEjected: (u: string) => pods.isEjected(u) },
      prefix:
        matched !== undefined && prefix !== undefined
          ? { matched, chars: prefix.chars, spread: prefix.hashes[prefix.hashes.length - 1] ?? 0 }
          : undefined,
    };
    const decision =
      this.policy === 'cache_aware'
        ? cacheAwareDecision(input, this.scoring.cacheAware)
        : loadAwareDecision(input, this.scoring.loadAware);
    return { order: decision.order, decision };
  }

  /** Pods in the order to try them (see pick()). */
  order(ring: ConsistentHashRing, hash: U64 | undefined, pods: PodView, key = '', prefix?: PrefixKey): string[] {
    const members = ring.members;
    const n = members.length;
    if (n === 0) return [];
    if (this.scoring !== undefined) return this.pick(ring, hash, pods, key, prefix).order;
    let order: string[];
    switch (this.policy) {
      case 'consistent_hash':
      case 'bounded_load': {
        if (this.policy === 'consistent_hash') {
          order = failoverWalk(ring, hash as U64, pods, this.walkLimit);
          break;
        }
        const walk = ring.walkHash(hash as U64);
        const admitted = walk.filter((m) => !pods.isEjected(m));
        const pick = pickBoundedLoad(admitted, (m) => pods.inFlight(m), this.boundedLoadFactor);
        order = pick === undefined ? [...walk] : [pick, ...walk.filter((m) => m !== pick)];
        break;
      }
      case 'rendezvous_hash': {
        order = rendezvousOrder(ring.members, key);
        break;
      }
      case 'round_robin': {
        const start = this.rr++ % n;
        order = rotate(members, start);
        break;
      }
      case 'random': {
        order = rotate(members, Math.floor(this.random() * n));
        break;
      }
      case 'power_of_two': {
        const a = Math.floor(this.random() * n);
        let b = Math.floor(this.random() * (n - 1));
        if (b >= a) b++;
        const ma = members[a] as string;
        const mb = members[b] as string;
        const pickA = n === 1 || loadKey(pods, ma) <= loadKey(pods, mb);
        const first = pickA ? a : b;
        order = rotate(members, first);
        break;
      }
      default:
        // cache_aware and load_aware were handled by pick().
        order = [...ring.walkHash(hash as U64)];
    }
    return ejectedLast(order, pods);
  }
}

const NO_TEXT: PrefixKey = { hashes: [], chars: 0 };

/**
 * The scoring policies' candidates: the first SCORING_CANDIDATES distinct pods of the ring walk, then any
 * pod the index credits with a prefix of this request, in ring order. Walking every member of a large
 * fleet costs more than the whole rest of the decision (~100 µs at 1,000 pods), and the proxy tries at
 * most 1 + --retry-max-retries pods anyway; the least loaded of 32 pods on the walk is close to the
 * least loaded of all.
 */
export const SCORING_CANDIDATES = 32;
/** A ring's members as a set, built once per ring (rings are immutable). */
const memberSets = new WeakMap<ConsistentHashRing, Set<string>>();

function candidateWalk(ring: ConsistentHashRing, hash: U64, matched: ReadonlyMap<string, number> | undefined) {
  const n = ring.members.length;
  if (n <= SCORING_CANDIDATES) return ring.walkHash(hash);
  const head = ring.walkHash(hash, SCORING_CANDIDATES);
  if (matched === undefined || matched.size === 0) return head;
  const extra: string[] = [];
  let members = memberSets.get(ring);
  if (members === undefined) {
    members = new Set(ring.members);
    memberSets.set(ring, members);
  }
  for (const url of matched.keys()) if (members.has(url) && !head.includes(url)) extra.push(url);
  return extra.length === 0 ? head : [...head, ...extra];
}

/**
 * A whole ring walk visits nearly every point of a big ring (10,000 pods x 160 vnodes), while a request
 * tries a few pods: the walk stops after this many distinct pods unless one of them is ejected.
 */
export const FAILOVER_WALK_LIMIT = 64;

/**
 * The ring walk as the failover order needs it: the first `limit` pods when none of them
 * is ejected (ejectedLast() of the whole walk starts with exactly those), else the whole walk.
 */
function failoverWalk(ring: ConsistentHashRing, hash: U64, pods: PodView, limit: number): string[] {
  const near = ring.walkHash(hash, limit);
  if (near.length === ring.members.length || !near.some((m) => pods.isEjected(m))) return [...near];
  return [...ring.walkHash(hash)];
}

/** Ejected pods compare as heavily loaded so power_of_two avoids them. */
function loadKey(pods: PodView, url: string): number {
  return pods.isEjected(url) ? Number.MAX_SAFE_INTEGER : pods.inFlight(url);
}

function rotate(members: readonly string[], start: number): string[] {
  return [...members.slice(start), ...members.slice(0, start)];
}

function ejectedLast(order: string[], pods: PodView): string[] {
  let anyEjected = false;
  for (const m of order) {
    if (pods.isEjected(m)) {
      anyEjected = true;
      break;
    }
  }
  if (!anyEjected) return order;
  return [...order.filter((m) => !pods.isEjected(m)), ...order.filter((m) => pods.isEjected(m))];
}
