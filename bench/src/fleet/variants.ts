// The routing variants the fleet and affinity benchmarks compare, and whether this revision's proxy
// implements each (a policy accepted only as an alias of consistent_hash is not measured under its name).
import { POLICIES } from '@pdrouter/proxy';

export interface Variant {
  /** Short name for --variants. */
  readonly id: string;
  readonly name: string;
  /** The policy that must be implemented (not just accepted) for the variant to run. */
  readonly policy: string;
  readonly proxyArgs: readonly string[];
  readonly note: string;
}

export const CONSISTENT_HASH_VLLM: Variant = {
  id: 'hash-vllm',
  name: 'consistent_hash, vllm-router keys',
  policy: 'consistent_hash',
  proxyArgs: ['--policy', 'consistent_hash', '--hash-key-mode', 'vllm-router'],
  note: "vllm-router's key for --pd-disaggregation: the prompt text; chat requests without a session id by their conversation start (system + first user message; vllm-router itself puts them all on one pod)",
};

export const CONSISTENT_HASH_AFFINITY: Variant = {
  id: 'hash-affinity',
  name: 'consistent_hash, affinity keys',
  policy: 'consistent_hash',
  proxyArgs: ['--policy', 'consistent_hash', '--hash-key-mode', 'affinity'],
  note: 'affinity keys: system + first user message (completions: the prompt prefix), so a conversation stays on its pods',
};

export const BOUNDED_LOAD: Variant = {
  id: 'bounded-load',
  name: 'bounded_load, affinity keys',
  policy: 'bounded_load',
  proxyArgs: ['--policy', 'bounded_load', '--hash-key-mode', 'affinity'],
  note: 'affinity keys, no pod above 1.25 x the mean in-flight (default --bounded-load-factor)',
};

export const CACHE_AWARE: Variant = {
  id: 'cache-aware',
  name: 'cache_aware',
  policy: 'cache_aware',
  proxyArgs: ['--policy', 'cache_aware', '--hash-key-mode', 'affinity'],
  note: "vllm-router's cache_aware flags at their defaults: the pod with the longest matched prefix, least loaded when imbalanced, the ring owner (affinity key) when nothing matches",
};

export const LOAD_AWARE: Variant = {
  id: 'load-aware',
  name: 'load_aware',
  policy: 'load_aware',
  proxyArgs: ['--policy', 'load_aware', '--hash-key-mode', 'affinity'],
  note: "weighted prefix + load + ring scores at their default weights (load: in-flight legs and the pods' own queue and KV-cache gauges)",
};

export const ROUND_ROBIN: Variant = {
  id: 'round-robin',
  name: 'round_robin',
  policy: 'round_robin',
  proxyArgs: ['--policy', 'round_robin'],
  note: 'no affinity at all',
};

export const FLEET_VARIANTS: readonly Variant[] = [
  CONSISTENT_HASH_VLLM,
  CONSISTENT_HASH_AFFINITY,
  BOUNDED_LOAD,
  CACHE_AWARE,
  LOAD_AWARE,
];

/** Whether this revision's proxy routes `policy` itself (not as another policy's alias, not refused). */
export function policyImplemented(policy: string): boolean {
  return (POLICIES as readonly string[]).includes(policy);
}
