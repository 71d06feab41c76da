// The simulated pods seen through the sim's control server: per-pod counters (one GET for the whole fleet),
// differences over a run, and a reset that empties every pod's prefix cache between variants.
import type { SimPodStats } from '@pdrouter/vllm-sim';

/** Deadline of one call to the simulator's control server. */
const SIM_CONTROL_TIMEOUT_MS = 10_000;

export type PodCounters = Pick<
  SimPodStats,
  'name' | 'role' | 'url' | 'requests' | 'completed' | 'prefixCacheQueries' | 'prefixCacheHits' | 'generationTokens'
>;

export async function podCounters(control: string): Promise<PodCounters[]> {
  const res = await fetch(`${control}/pods`, { signal: AbortSignal.timeout(SIM_CONTROL_TIMEOUT_MS) });
  if (res.status !== 200) throw new Error(`sim control GET /pods: HTTP ${res.status} ${await res.text()}`);
  const { pods } = (await res.json()) as { pods: SimPodStats[] };
  return pods.map((p) => ({
    name: p.name,
    role: p.role,
    url: p.url,
    requests: p.requests,
    completed: p.completed,
    prefixCacheQueries: p.prefixCacheQueries,
    prefixCacheHits: p.prefixCacheHits,
    generationTokens: p.generationTokens,
  }));
}

/** Counters accumulated between two readings of the same fleet. */
export function countersSince(before: readonly PodCounters[], after: readonly PodCounters[]): PodCounters[] {
  const earlier = new Map(before.map((p) => [p.name, p]));
  return after.map((p) => {
    const b = earlier.get(p.name);
    if (b === undefined) return p;
    return {
      ...p,
      requests: p.requests - b.requests,
      completed: p.completed - b.completed,
      prefixCacheQueries: p.prefixCacheQueries - b.prefixCacheQueries,
      prefixCacheHits: p.prefixCacheHits - b.prefixCacheHits,
      generationTokens: p.generationTokens - b.generationTokens,
    };
  });
}

/** Stops and starts every pod: a stopped pod drops its prefix cache, so the next variant starts cold. */
export async function resetPods(control: string, names: readonly string[]): Promise<void> {
  await Promise.all(
    names.map(async (name) => {
      for (const action of ['stop', 'start'] as const) {
        const res = await fetch(`${control}/pods/${encodeURIComponent(name)}/${action}`, {
          method: 'POST',
          signal: AbortSignal.timeout(SIM_CONTROL_TIMEOUT_MS),
        });
        if (res.status !== 200)
          throw new Error(`sim control ${action} ${name}: HTTP ${res.status} ${await res.text()}`);
      }
    }),
  );
}

export interface RoleSummary {
  readonly prefix_cache_hits: number;
  readonly prefix_cache_queries: number;
  readonly hit_rate: number;
  readonly requests_per_pod: Record<string, number>;
  /** The busiest pod's requests over the mean of the role. */
  readonly busiest_over_mean: number;
}

export function roleSummary(pods: readonly PodCounters[], role: 'prefill' | 'decode'): RoleSummary {
  const mine = pods.filter((p) => p.role === role);
  const hits = mine.reduce((a, p) => a + p.prefixCacheHits, 0);
  const queries = mine.reduce((a, p) => a + p.prefixCacheQueries, 0);
  const requests = mine.map((p) => p.requests);
  const mean = requests.reduce((a, b) => a + b, 0) / Math.max(1, requests.length);
  return {
    prefix_cache_hits: hits,
    prefix_cache_queries: queries,
    hit_rate: queries > 0 ? hits / queries : 0,
    requests_per_pod: Object.fromEntries(mine.map((p) => [p.name, p.requests])),
    busiest_over_mean: mean > 0 ? Math.max(...requests) / mean : 0,
  };
}
