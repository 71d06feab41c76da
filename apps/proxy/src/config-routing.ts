// The scoring policies' settings (cache_aware, load_aware, the prefix index, selective P/D), from the flags.
// Combinations that would do nothing are refused rather than accepted silently.
import { UsageError } from '@pdrouter/cli';
import type { CacheAwareOptions, LoadAwareWeights } from '@pdrouter/core';
import type { ProxyFlagValues } from './flags.ts';

export interface RoutingSettings {
  readonly cacheAware: CacheAwareOptions;
  readonly loadAware: LoadAwareWeights;
  /** Between prefix-index sweeps; 0: no sweep (record() still caps the index at twice its budget). */
  readonly evictionIntervalMs: number;
  /** --max-tree-size: the prefix index's budget per role, in characters. */
  readonly maxTreeChars: number;
  /** P/D: prompts estimated below this skip the prefill leg (0: off). */
  readonly pdMinPromptTokens: number;
  /** P/D: a decode pod that served at least this share of the text gets the request decode-only (0: off). */
  readonly skipPrefillCachedRatio: number;
}

const SCORING = new Set(['cache_aware', 'load_aware']);

function finiteAtLeast(flag: string, n: number, min: number): number {
  if (!(Number.isFinite(n) && n >= min)) throw new UsageError(`--${flag} must be a number >= ${min}, got ${n}`);
  return n;
}

export function routingOf(
  v: ProxyFlagValues,
  mode: 'pd' | 'plain',
  policies: { readonly decode: string },
): RoutingSettings {
  const threshold = v['cache-threshold'];
  if (!(threshold >= 0 && threshold <= 1)) throw new UsageError(`--cache-threshold must be 0-1, got ${threshold}`);
  const ratio = v['pd-skip-prefill-cached-ratio'];
  if (!(ratio >= 0 && ratio <= 1)) throw new UsageError(`--pd-skip-prefill-cached-ratio must be 0-1, got ${ratio}`);
  const minTokens = finiteAtLeast('pd-min-prompt-tokens', v['pd-min-prompt-tokens'], 0);
  if (mode !== 'pd' && (minTokens > 0 || ratio > 0)) {
    throw new UsageError(
      `--${minTokens > 0 ? 'pd-min-prompt-tokens' : 'pd-skip-prefill-cached-ratio'} needs P/D mode (--pd-disaggregation): plain mode has no prefill leg to skip`,
    );
  }
  if (ratio > 0 && !SCORING.has(policies.decode)) {
    throw new UsageError(
      `--pd-skip-prefill-cached-ratio needs a decode policy that tracks prefixes (--decode-policy cache_aware or load_aware), not ${policies.decode}`,
    );
  }
  const maxTree = v['max-tree-size'];
  if (!(maxTree >= 1)) throw new UsageError(`--max-tree-size must be >= 1, got ${maxTree}`);
  return Object.freeze({
    cacheAware: Object.freeze({
      cacheThreshold: threshold,
      balanceAbsThreshold: finiteAtLeast('balance-abs-threshold', v['balance-abs-threshold'], 0),
      balanceRelThreshold: finiteAtLeast('balance-rel-threshold', v['balance-rel-threshold'], 0),
    }),
    loadAware: Object.freeze({
      prefix: finiteAtLeast('load-aware-prefix-weight', v['load-aware-prefix-weight'], 0),
      load: finiteAtLeast('load-aware-load-weight', v['load-aware-load-weight'], 0),
      ring: finiteAtLeast('load-aware-ring-weight', v['load-aware-ring-weight'], 0),
    }),
    evictionIntervalMs: finiteAtLeast('eviction-interval', v['eviction-interval'], 0) * 1000,
    maxTreeChars: maxTree,
    pdMinPromptTokens: minTokens,
    skipPrefillCachedRatio: ratio,
  });
}
