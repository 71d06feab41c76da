// explain --policy cache_aware|load_aware: the scores core's pipeline gives each pod, from what the
// command line says. pdrouterctl has no live prefix index and no live load: the index holds only the
// --served bodies, the load only --in-flight and --pod-signals; the output says so.
import {
  type CacheAwareOptions,
  cacheAwareDecision,
  DEFAULT_CACHE_AWARE_OPTIONS,
  DEFAULT_LOAD_AWARE_WEIGHTS,
  type LoadAwareWeights,
  type LoadView,
  loadAwareDecision,
  type PodSignals,
  PrefixIndex,
  prefixKey,
  prefixRoutingText,
  type Role,
} from '@pdrouter/core';
import { UsageError } from './usage.ts';

export interface ScoringArgs {
  readonly policy?: string;
  readonly served: readonly string[];
  readonly inFlight: readonly string[];
  readonly podSignals: readonly string[];
  readonly knobs: Readonly<Record<string, string | undefined>>;
}

const SCORING = ['cache_aware', 'load_aware'] as const;
type ScoringPolicy = (typeof SCORING)[number];

/** The index budget is irrelevant here (a handful of bodies): generous. */
const EXPLAIN_INDEX_CHARS = 1 << 26;

export const EXPLAIN_NOTE =
  'pdrouterctl has no live prefix index or load: prefix scores come only from --served bodies, load only from --in-flight and --pod-signals (absent: idle, no gauges)';

function splitPodArg(flag: string, raw: string): [string, string] {
  const at = raw.indexOf('=');
  if (at <= 0) throw new UsageError(`--${flag} must look like URL=VALUE, got "${raw}"`);
  return [raw.slice(0, at), raw.slice(at + 1)];
}

function numberKnob(knobs: ScoringArgs['knobs'], name: string, fallback: number): number {
  const raw = knobs[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new UsageError(`--${name} must be a number >= 0, got "${raw}"`);
  return n;
}

function parseSignals(raw: string): PodSignals {
  const parts = raw.split(',').map((p) => Number(p));
  if ((parts.length !== 2 && parts.length !== 3) || parts.some((n) => !Number.isFinite(n) || n < 0)) {
    throw new UsageError(`--pod-signals must look like URL=WAITING,RUNNING[,KV], got "=${raw}"`);
  }
  return { waiting: parts[0] as number, running: parts[1] as number, kvCacheUsage: parts[2] };
}

export interface Scorer {
  readonly policy: ScoringPolicy;
  /** The decision for one role's ring walk, as JSON-ready data. */
  score(role: Role, walk: readonly string[], body: unknown): Record<string, unknown>;
}

/**
 * Undefined when no scoring policy was asked for. `members` are every role's ring keys (to check the
 * URLs given); `readBody` reads a --served value as --body reads its.
 */
export async function scorerFor(
  args: ScoringArgs,
  members: Readonly<Record<Role, readonly string[]>>,
  readBody: (source: string) => Promise<unknown>,
): Promise<Scorer | undefined> {
  if (args.policy === undefined) {
    if (args.served.length > 0 || args.inFlight.length > 0 || args.podSignals.length > 0)
      throw new UsageError('--served, --in-flight and --pod-signals need --policy cache_aware or load_aware');
    return undefined;
  }
  if (!(SCORING as readonly string[]).includes(args.policy))
    throw new UsageError(`--policy must be cache_aware or load_aware, got "${args.policy}"`);
  const policy = args.policy as ScoringPolicy;
  const roleOf = (flag: string, url: string): Role => {
    const role = (['prefill', 'decode', 'plain'] as const).find((r) => members[r].includes(url));
    if (role === undefined) throw new UsageError(`--${flag}: ${url} is not a ring member`);
    return role;
  };
  const indexes = new Map<Role, PrefixIndex>();
  for (const raw of args.served) {
    const [url, source] = splitPodArg('served', raw);
    const role = roleOf('served', url);
    const body = await readBody(source);
    const text =
      typeof body === 'object' && body !== null ? prefixRoutingText(body as Record<string, unknown>) : undefined;
    if (text === undefined) throw new UsageError(`--served ${url}: the body has no prompt, messages or input`);
    let idx = indexes.get(role);
    if (!idx) {
      idx = new PrefixIndex({ maxChars: EXPLAIN_INDEX_CHARS });
      indexes.set(role, idx);
    }
    idx.record(prefixKey(text), url);
  }
  const inFlight = new Map<string, number>();
  for (const raw of args.inFlight) {
    const [url, value] = splitPodArg('in-flight', raw);
    roleOf('in-flight', url);
    const n = Number(value);
    if (!/^\d+$/.test(value)) throw new UsageError(`--in-flight ${url}: must be a whole number, got "${value}"`);
    inFlight.set(url, n);
  }
  const signals = new Map<string, PodSignals>();
  for (const raw of args.podSignals) {
    const [url, value] = splitPodArg('pod-signals', raw);
    roleOf('pod-signals', url);
    signals.set(url, parseSignals(value));
  }
  const load: LoadView = { inFlight: (u) => inFlight.get(u) ?? 0, signals: (u) => signals.get(u) };
  const k = args.knobs;
  const cacheAware: CacheAwareOptions = {
    cacheThreshold: numberKnob(k, 'cache-threshold', DEFAULT_CACHE_AWARE_OPTIONS.cacheThreshold),
    balanceAbsThreshold: numberKnob(k, 'balance-abs-threshold', DEFAULT_CACHE_AWARE_OPTIONS.balanceAbsThreshold),
    balanceRelThreshold: numberKnob(k, 'balance-rel-threshold', DEFAULT_CACHE_AWARE_OPTIONS.balanceRelThreshold),
  };
  const weights: LoadAwareWeights = {
    prefix: numberKnob(k, 'load-aware-prefix-weight', DEFAULT_LOAD_AWARE_WEIGHTS.prefix),
    load: numberKnob(k, 'load-aware-load-weight', DEFAULT_LOAD_AWARE_WEIGHTS.load),
    ring: numberKnob(k, 'load-aware-ring-weight', DEFAULT_LOAD_AWARE_WEIGHTS.ring),
  };
  return {
    policy,
    score(role, walk, body) {
      const text =
        typeof body === 'object' && body !== null ? prefixRoutingText(body as Record<string, unknown>) : undefined;
      const key = prefixKey(text ?? '');
      const matched = indexes.get(role)?.match(key) ?? new Map<string, number>();
      const input = { walk, load, prefix: { matched, chars: key.chars } };
      const d = policy === 'cache_aware' ? cacheAwareDecision(input, cacheAware) : loadAwareDecision(input, weights);
      return {
        policy,
        winner: d.winner ?? null,
        reason: d.reason,
        why: d.why(),
        order: d.order,
        routingTextChars: key.chars,
        settings: policy === 'cache_aware' ? cacheAware : weights,
        scores: d.scores,
        note: EXPLAIN_NOTE,
      };
    },
  };
}
