// The best prefix-cache hit rate a workload allows: a router with perfect knowledge in front of pods with
// unbounded caches does no better than one pod that has seen every earlier prompt. Counted the way the
// simulated pods (and vLLM) count: tokens looked up = every prompt token, tokens hit = whole cached blocks of
// the prompt's leading blocks, and never the last prompt token (it is always computed).
import { computeBlockHashes } from '@pdrouter/vllm-sim';

/** The simulator's (and vLLM's default) KV block size in tokens. */
export const SIM_BLOCK_SIZE = 16;

export interface IdealHits {
  readonly requests: number;
  /** Prompt tokens looked up (vllm:prefix_cache_queries_total over the requests). */
  readonly queryTokens: number;
  /** Prompt tokens an ideal router finds cached (vllm:prefix_cache_hits_total). */
  readonly hitTokens: number;
  /** hitTokens / queryTokens (0 for an empty workload). */
  readonly rate: number;
}

/**
 * Ideal hits of `prompts` (each a prompt's tokens, in the order the workload sends them). The order only
 * decides which of two requests sharing a prefix pays for it first; the total is the same either way, except
 * for a prompt that is wholly a prefix of another (its last block is never a hit).
 */
export function idealPrefixHits(prompts: Iterable<readonly string[]>, blockSize = SIM_BLOCK_SIZE): IdealHits {
  const seen = new Set<number>();
  let requests = 0;
  let queryTokens = 0;
  let hitTokens = 0;
  for (const tokens of prompts) {
    requests++;
    queryTokens += tokens.length;
    const hashes = computeBlockHashes(tokens, blockSize);
    const cacheable = Math.min(hashes.length, Math.floor((tokens.length - 1) / blockSize));
    let hit = 0;
    while (hit < cacheable && seen.has(hashes[hit] as number)) hit++;
    hitTokens += hit * blockSize;
    for (const h of hashes) seen.add(h);
  }
  return { requests, queryTokens, hitTokens, rate: queryTokens > 0 ? hitTokens / queryTokens : 0 };
}

/** A measured hit rate as a fraction of the ideal; undefined when the workload allows no hits at all. */
export function ofIdeal(measured: number, ideal: IdealHits): number | undefined {
  return ideal.rate > 0 ? measured / ideal.rate : undefined;
}
