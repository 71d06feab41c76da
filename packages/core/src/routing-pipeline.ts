// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
// The routing pipeline (docs/design.md §3.6): candidate pods -> filters -> scorers -> pick. Pure: the same
// inputs give the same pick on every replica, because every tie is broken by the ring walk (the key's
// owner first, then clockwise), which every replica computes alike from the same snapshot.
import type { LoadView } from './pod-signals.ts';

/** Why a candidate was left out. */
export type FilterReason = 'not_ready' | 'ejected' | 'at_cap';

export interface FilterOptions {
  /** A pod still in the ring but known not to be ready (the ring holds ready members only). */
  readonly isReady?: (url: string) => boolean;
  readonly isEjected?: (url: string) => boolean;
  /** Most in-flight legs a pod may hold (undefined: no cap). */
  readonly maxInFlight?: number;
}

export interface FilterResult {
  /** Candidates that passed, in walk order. */
  readonly kept: string[];
  readonly dropped: { readonly url: string; readonly reason: FilterReason }[];
}

/** Keeps the walk's pods that are ready, not ejected and under the cap, in walk order. */
export function filterCandidates(walk: readonly string[], load: LoadView, options: FilterOptions): FilterResult {
  const kept: string[] = [];
  const dropped: { url: string; reason: FilterReason }[] = [];
  const { isReady, isEjected, maxInFlight } = options;
  for (const url of walk) {
    if (isReady !== undefined && !isReady(url)) dropped.push({ url, reason: 'not_ready' });
    else if (isEjected?.(url) === true) dropped.push({ url, reason: 'ejected' });
    else if (maxInFlight !== undefined && load.inFlight(url) >= maxInFlight) dropped.push({ url, reason: 'at_cap' });
    else kept.push(url);
  }
  return { kept, dropped };
}

/** What the load scorer knows about one pod. */
export interface PodLoad {
  /** In-flight legs the router(s) hold on the pod. */
  readonly inFlight: number;
  /** Requests the pod has: the larger of inFlight and its own running + waiting (they overlap). */
  readonly queue: number;
  /** KV-cache usage 0..1, when the pod reports it and the report is fresh. */
  readonly kvCacheUsage: number | undefined;
}

/** A broken counter must not stop routing: non-finite or negative reads as 0. */
const sane = (n: number | undefined): number => (n !== undefined && Number.isFinite(n) && n > 0 ? n : 0);

export function podLoad(url: string, load: LoadView): PodLoad {
  const inFlight = sane(load.inFlight(url));
  const s = load.signals(url);
  if (s === undefined) return { inFlight, queue: inFlight, kvCacheUsage: undefined };
  const kv = s.kvCacheUsage;
  return {
    inFlight,
    queue: Math.max(inFlight, sane(s.running) + sane(s.waiting)),
    kvCacheUsage: kv !== undefined && Number.isFinite(kv) ? Math.min(1, Math.max(0, kv)) : undefined,
  };
}

/**
 * Queue differences below this many requests are noise, not overload: the load score's denominator is
 * at least this, so one request more than an idle neighbour does not outweigh a warm cache.
 */
export const LOAD_SCALE_FLOOR = 4;

/**
 * The load scorer: 0 (idle) .. 1 (busiest). A pod's queue relative to the busiest candidate's (at least
 * LOAD_SCALE_FLOOR), or its KV-cache usage when that is higher: a pod whose cache is nearly full
 * preempts whatever it is sent.
 */
export function loadScores(loads: readonly PodLoad[]): number[] {
  let max = LOAD_SCALE_FLOOR;
  for (const l of loads) if (l.queue > max) max = l.queue;
  return loads.map((l) => loadScore(l, max));
}

/** One pod's load score, given the busiest candidate's queue (at least LOAD_SCALE_FLOOR). */
export function loadScore(l: PodLoad, maxQueue: number): number {
  return Math.max(l.queue / maxQueue, l.kvCacheUsage ?? 0);
}

/** The prefix scorer: the share of the request's routing text the pod has served (0..1). */
export function prefixScore(matchedChars: number, textChars: number): number {
  return textChars > 0 ? Math.min(1, matchedChars / textChars) : 0;
}

/** The ring scorer: 1 for the key's owner (the first candidate of the walk), 0 for the others. */
export function ringScore(rank: number): number {
  return rank === 0 ? 1 : 0;
}

/** Index of the highest score; ties go to the earliest (walk order). Undefined for no scores. */
export function argmax(scores: readonly number[]): number | undefined {
  let best: number | undefined;
  for (let i = 0; i < scores.length; i++) if (best === undefined || scores[i]! > scores[best]!) best = i;
  return best;
}

/** Index of the lowest value; ties go to the earliest (walk order). */
export function argmin(values: readonly number[]): number | undefined {
  let best: number | undefined;
  for (let i = 0; i < values.length; i++) if (best === undefined || values[i]! < values[best]!) best = i;
  return best;
}

/**
 * The failover order after a pick: the winner, then the rest of the walk in ring order, with pods that
 * did not pass the filters at the end (tried only when nothing else is left).
 */
export function orderAfterPick(winner: string | undefined, kept: readonly string[], walk: readonly string[]): string[] {
  if (winner === undefined) return [...walk];
  const out = [winner];
  for (const url of kept) if (url !== winner) out.push(url);
  if (kept.length !== walk.length) {
    const keptSet = new Set(kept);
    for (const url of walk) if (!keptSet.has(url)) out.push(url);
  }
  return out;
}
