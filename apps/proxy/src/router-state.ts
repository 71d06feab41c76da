// The routing table in use: one immutable object (snapshot + a ring per role) behind a single reference,
// swapped whole when a newer valid snapshot arrives. A request reads the reference once, so it keeps the
// pods it started with even if the table changes mid-flight.
//
// Applying is diff-based: members equal to the previous snapshot's are not validated again, and a ring
// whose role changed by a few members is the previous ring with those members' points merged in or
// out. Only a ring built from scratch (the first big snapshot, a mass change) costs a full build, and
// that runs in a worker thread (ring-builder.ts), so apply() is asynchronous; applies run one at a time
// in arrival order, each against the table the previous one left. A snapshot its source validated
// already (validatedSnapshot: the NATS source's assembled manifests) is not parsed again: its changes
// since the snapshot in use are applied as the source found them.
import {
  type ConsistentHashRing,
  fingerprintOfSum,
  isNewerSnapshot,
  type Member,
  type MembershipSum,
  memberRingKey,
  membershipSumAfter,
  membershipSumInSteps,
  PARSE_STEP_MEMBERS,
  parseSnapshotInSteps,
  type Role,
  type Snapshot,
  type SnapshotChanges,
} from '@pdrouter/core';
import { MemberIndex } from './member-index.ts';
import { RingBuilder, runInSteps, yieldToLoop } from './ring-builder.ts';
import { validationOf } from './snapshot-source.ts';

export interface RoutingTable {
  readonly snapshot: Snapshot;
  readonly fingerprint: string;
  readonly rings: Readonly<Record<Role, ConsistentHashRing>>;
  /** Ready members' ring keys per role, sorted (the ring's member order). */
  readonly members: Readonly<Record<Role, readonly string[]>>;
  /** Ring key (the URL, or `url@rank`) -> member. */
  readonly byKey: MemberIndex;
  /**
   * Ring keys (all roles) that joined and left since the table before, when this table was merged from
   * it (a small change); undefined after a full build. A key in neither list kept its member's URL.
   */
  readonly keyChanges?: KeyChanges;
  readonly appliedAtMs: number;
}

/** Ring keys that joined and left a table: of all roles together, and per role. */
export interface KeyChanges {
  readonly joined: readonly string[];
  readonly left: readonly string[];
  /** Per role: a key that moved to another role has left one and joined the other. */
  readonly roles: Readonly<Record<Role, { readonly joined: readonly string[]; readonly left: readonly string[] }>>;
}

export type ApplyResult =
  | { ok: true; table: RoutingTable; previous: RoutingTable | undefined }
  | { ok: false; reason: 'invalid' | 'stale'; error: string };

const ROLES: readonly Role[] = ['prefill', 'decode', 'plain'];

export class RouterState {
  private current: RoutingTable | undefined;
  /** The membership sum behind current's fingerprint, which the next snapshot's changes move. */
  private currentSum: MembershipSum | undefined;
  private readonly vnodes: number;
  private readonly builder: RingBuilder;
  /** The last apply in the queue: each waits for the one before it. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(options: { vnodes: number; builder?: RingBuilder }) {
    this.vnodes = options.vnodes;
    this.builder = options.builder ?? new RingBuilder();
  }

  get table(): RoutingTable | undefined {
    return this.current;
  }

  /**
   * Validates (whatever the source; a snapshot marked by validatedSnapshot is taken as validated), checks
   * order, builds the rings and swaps them in.
   */
  apply(candidate: unknown): Promise<ApplyResult> {
    const run = this.tail.then(() => this.applyNow(candidate));
    // A failed apply must not stop the ones queued after it.
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every apply started so far has finished. */
  async settled(): Promise<void> {
    await this.tail;
  }

  /** Stops the ring build worker. */
  close(): Promise<void> {
    return this.builder.close();
  }

  private async applyNow(candidate: unknown): Promise<ApplyResult> {
    const prev = this.current;
    const validation = validationOf(candidate);
    let snapshot: Snapshot;
    let changes: SnapshotChanges | undefined;
    let fullSum: MembershipSum | undefined;
    if (validation !== undefined) {
      // Validated by its source: the changes hold against the snapshot in use only if that is their base
      // (else the full path rebuilds from the snapshot itself, and the next change is relative to it).
      snapshot = candidate as Snapshot;
      if (prev !== undefined && validation.base === prev.snapshot) changes = validation.changes;
      fullSum = validation.sum;
    } else {
      const parsed = await runInSteps(parseSnapshotInSteps(candidate, prev ? { previous: prev.snapshot } : {}));
      if (!parsed.ok) return { ok: false, reason: 'invalid', error: parsed.error };
      snapshot = parsed.snapshot;
      changes = parsed.changes;
    }
    if (prev && !isNewerSnapshot(snapshot, prev.snapshot)) {
      const cur = prev.snapshot;
      return {
        ok: false,
        reason: 'stale',
        error: `snapshot epoch ${snapshot.epoch} seq ${snapshot.seq} is not newer than the one in use (epoch ${cur.epoch} seq ${cur.seq})`,
      };
    }
    if (prev && this.currentSum && changes) {
      const table = this.changedTable(prev, this.currentSum, snapshot, changes);
      if (table) {
        this.current = table;
        return { ok: true, table, previous: prev };
      }
    }
    // A full apply is tens of milliseconds of work on this thread (besides the ring build in the
    // worker): requests get a turn between its parts.
    await yieldToLoop();
    const sum = fullSum ?? (await runInSteps(membershipSumInSteps(snapshot, PARSE_STEP_MEMBERS)));
    const fingerprint = fingerprintOfSum(sum);
    const byKey = new Map<string, Member>();
    const keys = {} as Record<Role, string[]>;
    for (const role of ROLES) {
      // The ring is keyed by URL (url@rank for a data-parallel rank), as vllm-router's is, so both
      // routers put a key on the same pod.
      const ready: string[] = [];
      for (const m of snapshot.members[role]) {
        if (!m.ready) continue;
        const key = memberRingKey(m);
        byKey.set(key, m);
        ready.push(key);
      }
      keys[role] = ready;
    }
    const built = await Promise.all(
      ROLES.map((role) => this.builder.build(keys[role], this.vnodes, prev?.rings[role])),
    );
    const rings = {} as Record<Role, ConsistentHashRing>;
    const members = {} as Record<Role, readonly string[]>;
    ROLES.forEach((role, i) => {
      rings[role] = built[i] as ConsistentHashRing;
      members[role] = rings[role].members;
    });
    const table: RoutingTable = Object.freeze({
      snapshot,
      fingerprint,
      rings: Object.freeze(rings),
      members: Object.freeze(members),
      byKey: MemberIndex.of(byKey),
      appliedAtMs: Date.now(),
    });
    this.current = table;
    this.currentSum = sum;
    return { ok: true, table, previous: prev };
  }

  /**
   * The table after a small change, from the previous one: each ring with the changed members' points
   * merged in or out, the key map edited, the fingerprint moved by the changed members' digests. Costs
   * what the change costs, not what 10,000 members do. Undefined when the change is too large to merge
   * (or a ring key is shared across roles), for the full path to build.
   */
  private changedTable(
    prev: RoutingTable,
    prevSum: MembershipSum,
    snapshot: Snapshot,
    changes: SnapshotChanges,
  ): RoutingTable | undefined {
    const byKey = prev.byKey;
    const gone: string[] = [];
    const rings = {} as Record<Role, ConsistentHashRing>;
    const members = {} as Record<Role, readonly string[]>;
    const joiners: [string, Member][] = [];
    const roleChanges = {} as Record<Role, { joined: string[]; left: string[] }>;
    for (const role of ROLES) {
      const leaving: string[] = [];
      for (const m of changes.removed[role]) {
        if (!m.ready) continue;
        const key = memberRingKey(m);
        if (byKey.get(key) !== m) return undefined;
        gone.push(key);
        leaving.push(key);
      }
      const joining: string[] = [];
      for (const m of changes.added[role]) {
        if (!m.ready) continue;
        const key = memberRingKey(m);
        joining.push(key);
        joiners.push([key, m]);
      }
      const ring = prev.rings[role].withChangedMembers(leaving, joining);
      if (ring === undefined) return undefined;
      rings[role] = ring;
      members[role] = ring.members;
      const joiningSet = new Set(joining);
      const leavingSet = new Set(leaving);
      roleChanges[role] = {
        joined: joining.filter((k) => !leavingSet.has(k)),
        left: leaving.filter((k) => !joiningSet.has(k)),
      };
    }
    // A joiner's key must be free once the leavers are gone (else it is shared across roles).
    const freed = new Set(gone);
    for (const [key] of joiners) if (byKey.has(key) && !freed.has(key)) return undefined;
    if (new Set(joiners.map(([key]) => key)).size !== joiners.length) return undefined;
    const sum = membershipSumAfter(prevSum, changes);
    // A key that left and joined again (a pod's uid or readiness changed, not its URL) is no change.
    const joinedKeys = new Set(joiners.map(([key]) => key));
    const table: RoutingTable = Object.freeze({
      snapshot,
      fingerprint: fingerprintOfSum(sum),
      rings: Object.freeze(rings),
      members: Object.freeze(members),
      byKey: byKey.changed(gone, joiners),
      keyChanges: Object.freeze({
        joined: joiners.filter(([key]) => !freed.has(key)).map(([key]) => key),
        left: gone.filter((key) => !joinedKeys.has(key)),
        roles: roleChanges,
      }),
      appliedAtMs: Date.now(),
    });
    this.currentSum = sum;
    return table;
  }
}
