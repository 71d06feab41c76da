import { fbiHash } from './fbi-hash.ts';
import { compareU64 } from './u64.ts';

/**
 * vllm-router's rendezvous_hash: each member scores fbiHash(`{key}:{member}`), the highest wins (on a tie
 * the later member, as Rust's max_by_key picks). The rest, by falling score, is the failover order, so a
 * member leaving moves only its own keys. The proxy's policy and pdrouterctl explain both use this.
 */
export function rendezvousOrder(members: readonly string[], key: string): string[] {
  const scored = members.map((m, i) => ({ m, i, score: fbiHash(`${key}:${m}`) }));
  scored.sort((a, b) => compareU64(b.score, a.score) || b.i - a.i);
  return scored.map((s) => s.m);
}
