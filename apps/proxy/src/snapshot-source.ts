// The membership seam: where the proxy's pod set comes from. Every source hands over whole snapshots
// (core's schema); the proxy validates and orders them itself (RouterState.apply) whatever the source,
// except that a source which validated a snapshot already (the NATS source assembles and checks every
// manifest against the one before) hands it over marked as such, with its changes, so the members are
// not checked twice (validatedSnapshot).
import type { Member, MembershipSum, Snapshot, SnapshotChanges } from '@pdrouter/core';
import { snapshotFromUrls } from '@pdrouter/core';
import type { PrefillArg } from './config.ts';

/** What a source found when it validated a snapshot itself (parseSnapshot's checks, nothing less). */
export interface SnapshotValidation {
  /** The snapshot `changes` are relative to: the one this source handed over before (undefined: none). */
  readonly base: Snapshot | undefined;
  /** Members that joined and left since `base` (parseSnapshot's changes against it). */
  readonly changes: SnapshotChanges | undefined;
  /** The membership sum (membershipSum's) of the snapshot. */
  readonly sum: MembershipSum;
}

// Snapshot objects are never changed once validated, so the mark can stay with the object.
const validations = new WeakMap<Snapshot, SnapshotValidation>();

/**
 * Marks `snapshot` as validated by its source, with what the validation found: RouterState.apply takes it
 * as is (no second parse) and applies `changes` when `base` is the snapshot in use. Returns `snapshot`.
 */
export function validatedSnapshot(snapshot: Snapshot, validation: SnapshotValidation): Snapshot {
  validations.set(snapshot, validation);
  return snapshot;
}

/** The validation a source recorded for this object (validatedSnapshot), if any. */
export function validationOf(candidate: unknown): SnapshotValidation | undefined {
  return typeof candidate === 'object' && candidate !== null ? validations.get(candidate as Snapshot) : undefined;
}

/**
 * Why a source refused a value (the `reason` label of pdrouter_snapshots_rejected_total): `invalid` (not a
 * well-formed snapshot), `pool` (another pool's snapshot under this pool's key), `future` (an epoch
 * implausibly far ahead of the clock), `incomplete` (a manifest whose shards are not all in the bucket),
 * `mismatch` (a shard, or the membership assembled from the shards, does not match the manifest's digest
 * or fingerprint), `source` (the backend itself failed: unreachable, unreadable).
 */
export type SourceRejectKind = 'invalid' | 'pool' | 'future' | 'incomplete' | 'mismatch' | 'source';

export interface SnapshotSource {
  /** For logs and /admin/state, e.g. "static flags" or "file /etc/pdrouter/pods.json". */
  readonly description: string;
  /**
   * Starts delivering snapshots: `apply` for each candidate snapshot (the current one first), `reject`
   * when the source saw something it could not turn into a snapshot (unreadable file, bad JSON...).
   * Resolves once the first attempt was made (a source that cannot reach its backend still resolves,
   * and keeps trying).
   */
  start(apply: (s: Snapshot) => void, reject: (reason: string, kind?: SourceRejectKind) => void): Promise<void>;
  close(): Promise<void>;
}

/**
 * Members from --prefill/--decode/--worker-urls: one snapshot, epoch 0 seq 0. With
 * --intra-node-data-parallel-size N > 1 every URL becomes N members `url@0`..`url@N-1` (vllm-router's
 * ring keys), each sent with its X-data-parallel-rank header.
 */
export function staticSnapshotSource(options: {
  pool: string;
  prefill: readonly PrefillArg[];
  decode: readonly string[];
  plain: readonly string[];
  dataParallelSize?: number;
}): SnapshotSource {
  return {
    description: 'static flags',
    async start(apply) {
      const base = snapshotFromUrls({
        pool: options.pool,
        prefill: options.prefill.map((p) =>
          p.bootstrapPort === undefined ? { url: p.url } : { url: p.url, bootstrapPort: p.bootstrapPort },
        ),
        decode: [...options.decode],
        plain: [...options.plain],
      });
      apply(expandDataParallel(base, options.dataParallelSize ?? 1));
    },
    async close() {},
  };
}

export function expandDataParallel(s: Snapshot, size: number): Snapshot {
  if (size <= 1) return s;
  const expand = (members: readonly Member[]): Member[] =>
    members.flatMap((m) =>
      Array.from({ length: size }, (_, rank) => ({
        ...m,
        name: `${m.name}@${rank}`,
        uid: `${m.uid}@${rank}`,
        dpRank: rank,
      })),
    );
  return {
    ...s,
    members: { prefill: expand(s.members.prefill), decode: expand(s.members.decode), plain: expand(s.members.plain) },
  };
}
