// explain --policy: the pick of each policy the proxy decides from the request, as the proxy computes it.
// consistent_hash and rendezvous_hash from the key alone; bounded_load from the key and --in-flight;
// cache_aware and load_aware with the scores core's pipeline gives each pod. pdrouterctl has no live prefix
// index and no live load: the index holds only the --served bodies, the load only --in-flight and
// --pod-signals; the output says so. round_robin, random and power_of_two do not depend on the request,
// so they are refused with the reason.
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
  pickBoundedLoad,
  prefixColdHash,
  prefixKey,
  prefixRoutingText,
  type Role,
  rendezvousOrder,
  type U64,
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
/** The policies explain computes: their pick is a function of the request and the inputs given. */
export const EXPLAINED_POLICIES = ['consistent_hash', 'bounded_load', 'rendezvous_hash', ...SCORING] as const;
type ExplainedPolicy = (typeof EXPLAINED_POLICIES)[number];
/** The proxy's other policies, whose pick does not depend on the request: refused with the reason. */
export const UNEXPLAINED_POLICIES: Readonly<Record<string, string>> = {
  round_robin: "the pick is the replica's next turn, not a function of the request",
  random: 'the pick is a random draw, not a function of the request',
  power_of_two: 'the pick compares two randomly drawn pods, not a function of the request',
};
/** The proxy's --bounded-load-factor default. */
export const DEFAULT_BOUNDED_LOAD_FACTOR = 1.25;

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

/**
 * One role's inputs: its ring walk for the key, the walk from any hash (the scoring policies walk from
 * the routing text's first block, as the proxy does), its members, the key and the request body.
 */
export interface RoleRequest {
  readonly role: Role;
  readonly walk: readonly string[];
  readonly walkFrom: (hash: U64) => readonly string[];
  readonly members: readonly string[];
  readonly key: string;
  readonly body: unknown;
}

export interface Scorer {
  readonly policy: ExplainedPolicy;
  /** The decision for one role, as JSON-ready data. */
  score(request: RoleRequest): Record<string, unknown>;
}

function policyOf(raw: string): ExplainedPolicy {
  const why = Object.hasOwn(UNEXPLAINED_POLICIES, raw) ? UNEXPLAINED_POLICIES[raw] : undefined;
  if (why !== undefined) {
    throw new UsageError(
      `--policy ${raw} cannot be explained: ${why}; explain computes ${EXPLAINED_POLICIES.join(', ')}`,
    );
  }
  if (!(EXPLAINED_POLICIES as readonly string[]).includes(raw)) {
    throw new UsageError(
      `--policy must be one of ${EXPLAINED_POLICIES.join(', ')}, got "${raw}" (the proxy refuses vllm-router's other policies at start-up: docs/configuration.md#refused-values)`,
    );
  }
  return raw as ExplainedPolicy;
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
  const policy = policyOf(args.policy);
  const scoring = (SCORING as readonly string[]).includes(policy);
  if (!scoring && (args.served.length > 0 || args.podSignals.length > 0))
    throw new UsageError(`--served and --pod-signals need --policy cache_aware or load_aware, not ${policy}`);
  if (!scoring && policy !== 'bounded_load' && args.inFlight.length > 0)
    throw new UsageError(`--in-flight is not read by --policy ${policy}`);
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
  const boundedLoadFactor = numberKnob(k, 'bounded-load-factor', DEFAULT_BOUNDED_LOAD_FACTOR);
  if (boundedLoadFactor < 1) throw new UsageError(`--bounded-load-factor must be >= 1, got ${boundedLoadFactor}`);
  return {
    policy,
    score({ role, walk, walkFrom, members: roleMembers, key: hashKey, body }) {
      if (policy === 'consistent_hash') {
        return { policy, winner: walk[0] ?? null, reason: 'ring_owner', order: walk };
      }
      if (policy === 'rendezvous_hash') {
        const order = rendezvousOrder(roleMembers, hashKey);
        return { policy, winner: order[0] ?? null, reason: 'highest_rendezvous_score', order };
      }
      if (policy === 'bounded_load') {
        const winner = pickBoundedLoad(walk, (u) => inFlight.get(u) ?? 0, boundedLoadFactor);
        return {
          policy,
          winner: winner ?? null,
          reason: winner === walk[0] ? 'ring_owner' : 'owner_over_cap',
          order: winner === undefined ? walk : [winner, ...walk.filter((u) => u !== winner)],
          settings: { boundedLoadFactor },
          inFlight: Object.fromEntries(walk.map((u) => [u, inFlight.get(u) ?? 0])),
          note: EXPLAIN_NOTE,
        };
      }
      const text =
        typeof body === 'object' && body !== null ? prefixRoutingText(body as Record<string, unknown>) : undefined;
      const key = prefixKey(text ?? '');
      const matched = indexes.get(role)?.match(key) ?? new Map<string, number>();
      const scoringWalk = key.hashes.length > 0 ? walkFrom(prefixColdHash(key)) : walk;
      const input = { walk: scoringWalk, load, prefix: { matched, chars: key.chars, spread: key.hashes.at(-1) ?? 0 } };
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
