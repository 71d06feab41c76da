// What the load policies read beyond this replica's own counts, from the flags: the pods' /metrics
// gauges (--pod-metrics-*) and the in-flight counts shared between replicas over NATS (--load-share-*),
// with the prefix-index blocks they learned (--prefix-share-max-blocks).
// A flag that could do nothing in this configuration is refused rather than accepted silently.
import { UsageError } from '@pdrouter/cli';
import { LEARNED_MAX_HASHES, loadShareSubject } from '@pdrouter/core';
import type { MembershipConfig } from './config-membership.ts';
import type { ParsedFlags } from './flags.ts';

export interface PodMetricsSettings {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly staleMs: number;
}

export interface LoadShareSettings {
  /** Core NATS subject of this pool's load (pdrouter.load.<bucket>.<pool>). */
  readonly subject: string;
  readonly intervalMs: number;
  readonly staleMs: number;
  /** Prefix-index blocks one message may carry (--prefix-share-max-blocks); 0: prefixes are not shared. */
  readonly prefixMaxBlocks: number;
}

const SCORING = new Set(['cache_aware', 'load_aware']);
const POD_METRICS_FLAGS = ['pod-metrics-interval-ms', 'pod-metrics-timeout-ms', 'pod-metrics-stale-ms'] as const;
const LOAD_SHARE_FLAGS = ['load-share-interval-ms', 'load-share-stale-ms', 'prefix-share-max-blocks'] as const;

function atLeast(flag: string, n: number, min: number): number {
  if (!(Number.isInteger(n) && n >= min)) throw new UsageError(`--${flag} must be an integer >= ${min}, got ${n}`);
  return n;
}

/** The pods' gauges are read only when a policy in use scores them (cache_aware, load_aware). */
export function podMetricsOf(parsed: ParsedFlags, policies: readonly string[]): { podMetrics?: PodMetricsSettings } {
  const v = parsed.values;
  const scoring = policies.some((p) => SCORING.has(p));
  if (!scoring) {
    const given = POD_METRICS_FLAGS.find((f) => parsed.given.has(f));
    if (given !== undefined)
      throw new UsageError(
        `--${given} needs a policy that reads pod gauges (cache_aware or load_aware); ${[...new Set(policies)].join(', ')} read in-flight counts only`,
      );
    return {};
  }
  const intervalMs = atLeast('pod-metrics-interval-ms', v['pod-metrics-interval-ms'], 0);
  const timeoutMs = atLeast('pod-metrics-timeout-ms', v['pod-metrics-timeout-ms'], 1);
  const staleMs = atLeast('pod-metrics-stale-ms', v['pod-metrics-stale-ms'], 1);
  if (intervalMs === 0) return {};
  if (staleMs < intervalMs)
    throw new UsageError(
      `--pod-metrics-stale-ms (${staleMs}) must be >= --pod-metrics-interval-ms (${intervalMs}): every reading would be ignored before the next one`,
    );
  return { podMetrics: Object.freeze({ intervalMs, timeoutMs, staleMs }) };
}

/**
 * Replicas share their in-flight counts in distributed mode only: standalone has no other replica. With a
 * scoring policy the same messages carry what the prefix indexes learned (--prefix-share-max-blocks).
 */
export function loadShareOf(
  parsed: ParsedFlags,
  membership: MembershipConfig,
  pool: string,
  policies: readonly string[],
): { loadShare?: LoadShareSettings } {
  const v = parsed.values;
  if (membership.kind !== 'nats') {
    const given = LOAD_SHARE_FLAGS.find((f) => parsed.given.has(f));
    if (given !== undefined)
      throw new UsageError(
        `--${given} needs distributed mode (--nats-url): a standalone proxy has no other replica to share load with`,
      );
    return {};
  }
  const intervalMs = atLeast('load-share-interval-ms', v['load-share-interval-ms'], 0);
  const staleMs = atLeast('load-share-stale-ms', v['load-share-stale-ms'], 1);
  const prefixGiven = parsed.given.has('prefix-share-max-blocks');
  const prefixMaxBlocks = atLeast('prefix-share-max-blocks', v['prefix-share-max-blocks'], 0);
  if (prefixMaxBlocks > LEARNED_MAX_HASHES)
    throw new UsageError(`--prefix-share-max-blocks must be at most ${LEARNED_MAX_HASHES}, got ${prefixMaxBlocks}`);
  const scoring = policies.some((p) => SCORING.has(p));
  if (prefixGiven && !scoring)
    throw new UsageError(
      `--prefix-share-max-blocks needs a policy that keeps a prefix index (cache_aware or load_aware); ${[...new Set(policies)].join(', ')} keep none`,
    );
  if (intervalMs === 0) {
    if (prefixGiven)
      throw new UsageError(
        '--prefix-share-max-blocks needs --load-share-interval-ms > 0: the blocks travel in the shared-load messages',
      );
    return {};
  }
  if (staleMs < 2 * intervalMs)
    throw new UsageError(
      `--load-share-stale-ms (${staleMs}) must be at least twice --load-share-interval-ms (${intervalMs}): one late message would drop a live replica`,
    );
  return {
    loadShare: Object.freeze({
      subject: loadShareSubject(membership.bucket, pool),
      intervalMs,
      staleMs,
      prefixMaxBlocks: scoring ? prefixMaxBlocks : 0,
    }),
  };
}
