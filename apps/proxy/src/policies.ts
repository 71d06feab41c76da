// Policies turn a ring (and the request's hash) into an ordered list of pods to try: the first is the
// choice, the rest is the failover order. Ejected pods go to the end (tried only when nothing else is
// left), so ejection changes the walk and never the ring.
import { type ConsistentHashRing, compareU64, fbiHash, pickBoundedLoad, type U64 } from '@pdrouter/core';
import type { Policy } from './config.ts';

export interface PodView {
  inFlight(url: string): number;
  isEjected(url: string): boolean;
}

export const usesHash = (p: Policy): boolean =>
  p === 'consistent_hash' || p === 'bounded_load' || p === 'rendezvous_hash';

export class Picker {
  private readonly policy: Policy;
  private readonly boundedLoadFactor: number;
  private readonly random: () => number;
  private rr = 0;

  constructor(policy: Policy, options: { boundedLoadFactor: number; random?: () => number }) {
    this.policy = policy;
    this.boundedLoadFactor = options.boundedLoadFactor;
    this.random = options.random ?? Math.random;
  }

  get name(): Policy {
    return this.policy;
  }

  /** Pods in the order to try them. `hash` (and for rendezvous_hash `key`, what was hashed) are required by the hash policies. */
  order(ring: ConsistentHashRing, hash: U64 | undefined, pods: PodView, key = ''): string[] {
    const members = ring.members;
    const n = members.length;
    if (n === 0) return [];
    let order: string[];
    switch (this.policy) {
      case 'consistent_hash':
      case 'bounded_load': {
        const walk = ring.walkHash(hash as U64);
        if (this.policy === 'consistent_hash') {
          order = [...walk];
          break;
        }
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
    }
    return ejectedLast(order, pods);
  }
}

/**
 * vllm-router's rendezvous_hash: each member scores fbiHash(`{key}:{member}`), the highest wins (on a tie
 * the later member, as Rust's max_by_key picks). The rest, by falling score, is the failover order, so a
 * member leaving moves only its own keys.
 */
export function rendezvousOrder(members: readonly string[], key: string): string[] {
  const scored = members.map((m, i) => ({ m, i, score: fbiHash(`${key}:${m}`) }));
  scored.sort((a, b) => compareU64(b.score, a.score) || b.i - a.i);
  return scored.map((s) => s.m);
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
