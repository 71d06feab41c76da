// The routing table in use: one immutable object (snapshot + a ring per role) behind a single reference,
// swapped whole when a newer valid snapshot arrives. A request reads the reference once, so it keeps the
// pods it started with even if the table changes mid-flight.
import {
  ConsistentHashRing,
  isNewerSnapshot,
  type Member,
  memberRingKey,
  parseSnapshot,
  type Role,
  type Snapshot,
  snapshotFingerprint,
} from '@pdrouter/core';

export interface RoutingTable {
  readonly snapshot: Snapshot;
  readonly fingerprint: string;
  readonly rings: Readonly<Record<Role, ConsistentHashRing>>;
  /** Ready members' ring keys per role, sorted (the ring's member order). */
  readonly members: Readonly<Record<Role, readonly string[]>>;
  /** Ring key (the URL, or `url@rank`) -> member. */
  readonly byKey: ReadonlyMap<string, Member>;
  readonly appliedAtMs: number;
}

export type ApplyResult = { ok: true; table: RoutingTable } | { ok: false; reason: 'invalid' | 'stale'; error: string };

const ROLES: readonly Role[] = ['prefill', 'decode', 'plain'];

export class RouterState {
  private current: RoutingTable | undefined;
  private readonly vnodes: number;

  constructor(options: { vnodes: number }) {
    this.vnodes = options.vnodes;
  }

  get table(): RoutingTable | undefined {
    return this.current;
  }

  /** Validates (whatever the source), checks order, builds the rings and swaps them in. */
  apply(candidate: unknown): ApplyResult {
    const parsed = parseSnapshot(candidate);
    if (!parsed.ok) return { ok: false, reason: 'invalid', error: parsed.error };
    const snapshot = parsed.snapshot;
    if (this.current && !isNewerSnapshot(snapshot, this.current.snapshot)) {
      const cur = this.current.snapshot;
      return {
        ok: false,
        reason: 'stale',
        error: `snapshot epoch ${snapshot.epoch} seq ${snapshot.seq} is not newer than the one in use (epoch ${cur.epoch} seq ${cur.seq})`,
      };
    }
    const fingerprint = snapshotFingerprint(snapshot);
    const members = {} as Record<Role, readonly string[]>;
    const rings = {} as Record<Role, ConsistentHashRing>;
    const byKey = new Map<string, Member>();
    for (const role of ROLES) {
      // The ring is keyed by URL (url@rank for a data-parallel rank), as vllm-router's is, so both
      // routers put a key on the same pod.
      const ready = snapshot.members[role].filter((m) => m.ready);
      for (const m of ready) byKey.set(memberRingKey(m), m);
      const urls = [...new Set(ready.map(memberRingKey))].sort();
      // Reuse the previous ring when the role's members did not change: same positions, no rebuild cost.
      const prev = this.current?.rings[role];
      rings[role] =
        prev && sameMembers(prev.members, urls) ? prev : new ConsistentHashRing(urls, { vnodes: this.vnodes });
      members[role] = rings[role].members;
    }
    const table: RoutingTable = Object.freeze({
      snapshot,
      fingerprint,
      rings: Object.freeze(rings),
      members: Object.freeze(members),
      byKey,
      appliedAtMs: Date.now(),
    });
    this.current = table;
    return { ok: true, table };
  }
}

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sa = [...a].sort();
  for (let i = 0; i < sa.length; i++) if (sa[i] !== b[i]) return false;
  return true;
}
