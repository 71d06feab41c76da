import type { V1Pod } from '@kubernetes/client-node';
import type { Member } from '@pdrouter/core';

export interface MembershipOptions {
  readonly targetPort: number;
  readonly portAnnotation: string;
  readonly bootstrapPortAnnotation: string;
}

/**
 * Why a pod is not a member, or undefined when it is one. docs/design.md §5: a pod serves only while Running,
 * Ready, not terminating and with an IP. NotReady pods leave at once (vllm-router keeps them until deleted,
 * which sends traffic to pods that cannot serve it).
 */
export function exclusionReason(pod: V1Pod): string | undefined {
  if (pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null) return 'terminating';
  if (pod.status?.phase !== 'Running') return `phase ${pod.status?.phase ?? 'unknown'}`;
  const ready = pod.status.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') return 'not ready';
  if (!pod.status.podIP) return 'no pod IP';
  return undefined;
}

/** The pod as a snapshot member, or undefined when it must not receive traffic. */
export function podToMember(pod: V1Pod, options: MembershipOptions): Member | undefined {
  if (exclusionReason(pod) !== undefined) return undefined;
  const name = pod.metadata?.name;
  const ip = pod.status?.podIP;
  if (!name || !ip) return undefined;
  const annotations = pod.metadata?.annotations ?? {};
  const port = parsePort(annotations[options.portAnnotation]) ?? options.targetPort;
  const bootstrapPort = parsePort(annotations[options.bootstrapPortAnnotation]);
  // IPv6 pod IPs need brackets in a URL.
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return {
    name,
    uid: pod.metadata?.uid ?? '',
    url: `http://${host}:${port}`,
    ready: true,
    ...(bootstrapPort === undefined ? {} : { bootstrapPort }),
  };
}

/**
 * The informer keeps a pod's object until a watch event replaces it, so an unchanged pod maps to the same Member
 * object every recompute: the snapshot code's per-member caches (canonical JSON, fingerprint digest, shard) then
 * hold, and a one-pod change encodes and hashes one member instead of every member of the pool. An entry is used
 * only for the same object at the same resourceVersion (a pod without one is mapped afresh every time).
 */
const memberOfPod = new WeakMap<MembershipOptions, WeakMap<V1Pod, { rv: string; member: Member | undefined }>>();

function cachedPodToMember(pod: V1Pod, options: MembershipOptions): Member | undefined {
  const rv = pod.metadata?.resourceVersion;
  if (rv === undefined || rv === '') return podToMember(pod, options);
  let byPod = memberOfPod.get(options);
  if (byPod === undefined) {
    byPod = new WeakMap();
    memberOfPod.set(options, byPod);
  }
  const hit = byPod.get(pod);
  if (hit !== undefined && hit.rv === rv) return hit.member;
  const member = podToMember(pod, options);
  byPod.set(pod, { rv, member });
  return member;
}

/** A TCP port from an annotation value; undefined when absent or not a port (the default then applies). */
export function parsePort(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d{1,5}\s*$/.test(value)) return undefined;
  const n = Number(value);
  return n >= 1 && n <= 65535 ? n : undefined;
}

/**
 * Members of one role from the pods an informer holds, sorted by name. Names and URLs are unique within a
 * role (proxies reject a snapshot that repeats either): of two pods claiming the same URL (a port
 * annotation copied by mistake) the first by name is kept.
 */
export function membersOf(pods: Iterable<V1Pod>, options: MembershipOptions): Member[] {
  const all: Member[] = [];
  for (const pod of pods) {
    const m = cachedPodToMember(pod, options);
    if (m !== undefined) all.push(m);
  }
  all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = new Set<string>();
  const urls = new Set<string>();
  return all.filter((m) => {
    if (names.has(m.name) || urls.has(m.url)) return false;
    names.add(m.name);
    urls.add(m.url);
    return true;
  });
}
