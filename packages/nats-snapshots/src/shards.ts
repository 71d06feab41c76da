import type { KV } from '@nats-io/kv';
import {
  type AssembleResult,
  assembleSnapshotInSteps,
  encodeManifest,
  type MembershipSum,
  parseShard,
  parseStoredValue,
  runInSlices,
  type ShardContent,
  type ShardRef,
  type Snapshot,
  type SnapshotChanges,
  type SnapshotManifest,
  shardSnapshot,
} from '@pdrouter/core';
import { connectionOfBucket, isWrongLastSequence, RevisionConflictError } from './bucket.ts';

// The sharded snapshot in the bucket (docs/design.md §4.2): the manifest under the pool's key, each shard
// under `<pool>=shard.<digest>`. '=' cannot appear in a pool name, so no pool's key is another's shard.
// The leader writes the shards first and the manifest last (compare-and-set on its KV revision); readers
// fetch the shards a manifest lists and apply it only when all are there with the listed digests.

/** The KV key of a pool's shard. */
export function shardKey(pool: string, digest: string): string {
  return `${pool}=shard.${digest}`;
}

/** The KV filter matching every shard key of a pool. */
export function shardKeyFilter(pool: string): string {
  return `${pool}=shard.*`;
}

/** How long a shard no manifest references any more is kept before it is purged (readers mid-assembly). */
export const SHARD_GC_GRACE_MS = 60_000;

/** What one publication wrote: the shards that were new and the manifest. */
export interface ShardedPublishReport {
  revision: number;
  shardsWritten: number;
  shardBytes: number;
  manifestBytes: number;
  /** Bytes of the whole membership in the sharded encoding (all shards + manifest), written or not. */
  snapshotBytes: number;
  /** Shards the manifest lists. */
  shards: number;
}

export interface ShardGcReport {
  /** Shard keys purged in this pass. */
  purged: number;
  /** Unreferenced shard keys still within their grace period. */
  pending: number;
}

/**
 * The writer side, for the one leader of a pool. It remembers which shards are already in the bucket
 * (written this term, or seen by the last collection pass), so a publication writes only new shards: a
 * heartbeat none. Calls must not overlap (the publisher serializes them).
 */
export class ShardedSnapshotWriter {
  readonly #pool: string;
  readonly #graceMs: number;
  readonly #now: () => number;
  /** Digests known to be stored. */
  #present = new Set<string>();
  /** Digests of the last manifest this writer stored. */
  #referenced = new Set<string>();
  #shardCount: number | undefined;
  /** The shards of the last publication: unchanged ones are not encoded and hashed again. */
  readonly #shardCache: NonNullable<Parameters<typeof shardSnapshot>[2]> = { count: 0, parts: [] };
  /** Digest -> when a collection pass first found it unreferenced. */
  readonly #unreferencedSince = new Map<string, number>();

  constructor(pool: string, options: { graceMs?: number; now?: () => number } = {}) {
    this.#pool = pool;
    this.#graceMs = options.graceMs ?? SHARD_GC_GRACE_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Forgets which shards are stored (a new term: another leader may have collected some): the next publication writes all. */
  forget(): void {
    this.#present.clear();
    this.#unreferencedSince.clear();
  }

  /**
   * Writes the shards the bucket lacks, then the manifest: compare-and-set on `previousRevision` (0: the
   * key must not exist); RevisionConflictError when the key moved on.
   */
  async publish(kv: KV, s: Snapshot, previousRevision: number): Promise<ShardedPublishReport> {
    if (s.pool !== this.#pool) throw new Error(`writer of pool ${this.#pool} given pool ${s.pool}'s snapshot`);
    const { manifest, shards } = shardSnapshot(s, this.#shardCount, this.#shardCache);
    const missing = new Map<string, string>();
    for (const shard of shards) if (!this.#present.has(shard.digest)) missing.set(shard.digest, shard.raw);
    let shardBytes = 0;
    await Promise.all(
      [...missing].map(async ([digest, raw]) => {
        await kv.put(shardKey(this.#pool, digest), raw);
        this.#present.add(digest);
        shardBytes += Buffer.byteLength(raw);
      }),
    );
    const value = encodeManifest(manifest);
    let revision: number;
    try {
      revision =
        previousRevision === 0
          ? await kv.create(this.#pool, value)
          : await kv.update(this.#pool, value, previousRevision);
    } catch (err) {
      if (isWrongLastSequence(err)) {
        throw new RevisionConflictError(`key ${this.#pool} is no longer at revision ${previousRevision}`);
      }
      throw err;
    }
    this.#shardCount = manifest.shards.length;
    this.#referenced = new Set(manifest.shards.map((r) => r.digest));
    const manifestBytes = Buffer.byteLength(value);
    return {
      revision,
      shardsWritten: missing.size,
      shardBytes,
      manifestBytes,
      snapshotBytes: manifestBytes + shards.reduce((n, r) => n + r.bytes, 0),
      shards: shards.length,
    };
  }

  /**
   * One garbage-collection pass: lists the pool's shard keys, and purges (removes every message of) those
   * referenced neither by the last manifest this writer stored nor by the one in the bucket now, once a
   * pass has found them unreferenced for the grace period. Also re-learns which shards are stored, so a
   * shard removed by someone else is written again by the next publication.
   */
  async collect(kv: KV): Promise<ShardGcReport> {
    const stored = new Set<string>();
    const prefix = `${this.#pool}=shard.`;
    for await (const key of await kv.keys(shardKeyFilter(this.#pool))) {
      if (key.startsWith(prefix)) stored.add(key.slice(prefix.length));
    }
    const referenced = new Set(this.#referenced);
    const current = await kv.get(this.#pool);
    if (current !== null && current.operation === 'PUT') {
      const value = parseStoredValue(current.string());
      if (value.kind === 'manifest') for (const r of value.manifest.shards) referenced.add(r.digest);
    }
    this.#present = new Set(stored);
    const now = this.#now();
    let purged = 0;
    let pending = 0;
    for (const digest of [...this.#unreferencedSince.keys()]) {
      if (!stored.has(digest) || referenced.has(digest)) this.#unreferencedSince.delete(digest);
    }
    for (const digest of stored) {
      if (referenced.has(digest)) continue;
      const since = this.#unreferencedSince.get(digest);
      if (since === undefined) this.#unreferencedSince.set(digest, now);
      if (since === undefined || now - since < this.#graceMs) {
        pending++;
        continue;
      }
      await purgeKey(kv, shardKey(this.#pool, digest));
      this.#unreferencedSince.delete(digest);
      this.#present.delete(digest);
      purged++;
    }
    return { purged, pending };
  }
}

/** Removes every message of one key, leaving no delete marker behind (a JetStream stream purge by subject). */
async function purgeKey(kv: KV, key: string): Promise<void> {
  const nc = connectionOfBucket(kv);
  if (nc === undefined) throw new Error('purge: the bucket was not opened with openSnapshotBucket');
  const status = await kv.status();
  const stream = status.streamInfo.config.name;
  const reply = await nc.request(
    `$JS.API.STREAM.PURGE.${stream}`,
    JSON.stringify({ filter: `$KV.${status.bucket}.${key}`, keep: 0 }),
    { timeout: 5_000 },
  );
  const answer = reply.json<{ success?: boolean; error?: { description?: string } }>();
  if (answer.success !== true) throw new Error(`purge of ${key}: ${answer.error?.description ?? 'refused'}`);
}

export type ResolveResult =
  | {
      ok: true;
      snapshot: Snapshot;
      /**
       * Its membership sum (the manifest's fingerprint) and, when resolved against `previous`, the
       * members that joined and left since it (parseSnapshot's changes; none for a heartbeat).
       */
      sum: MembershipSum;
      changes?: SnapshotChanges;
    }
  | { ok: false; kind: 'incomplete' | 'mismatch' | 'invalid'; error: string };

const NONE = { prefill: [], decode: [], plain: [] } as const;
/** A heartbeat's changes: nobody joined or left. */
const NO_CHANGES: SnapshotChanges = { added: NONE, removed: NONE };

/** A shard of a manifest: already held (unchanged since the last view), or read from the bucket. */
type Fetched = { cached: ShardContent } | { entry: Awaited<ReturnType<KV['get']>> };

/** A turn of the event loop. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The shards of a manifest checked and read, one shard per step (missing ones and mismatches collected
 * by name): a mass change's shards are tens of milliseconds of hashing and parsing.
 */
function* readShards(
  refs: readonly ShardRef[],
  fetched: readonly Fetched[],
  missing: string[],
  mismatched: string[],
): Generator<void, (ShardContent | undefined)[]> {
  const out: (ShardContent | undefined)[] = [];
  for (const [i, ref] of refs.entries()) {
    const f = fetched[i] as Fetched;
    if ('cached' in f) {
      out.push(f.cached);
      continue;
    }
    if (f.entry === null || f.entry.operation !== 'PUT') {
      missing.push(ref.digest);
      out.push(undefined);
      continue;
    }
    const shard = parseShard(f.entry.string(), ref);
    if (shard.ok) out.push(shard.content);
    else {
      mismatched.push(shard.error);
      out.push(undefined);
    }
    yield;
  }
  return out;
}

/**
 * The reader side: turns a manifest into the whole snapshot, fetching only shards it has not seen (a
 * one-pod change costs one shard read, a heartbeat none). Keeps the shards of the last resolved manifest.
 */
export class ShardedSnapshotReader {
  readonly #pool: string;
  #cache = new Map<string, ShardContent>();
  #last:
    | {
        digests: string;
        refs: readonly string[];
        contents: readonly ShardContent[];
        snapshot: Snapshot;
        sum: MembershipSum;
      }
    | undefined;

  constructor(pool: string) {
    this.#pool = pool;
  }

  async resolve(kv: KV, manifest: SnapshotManifest, previous?: Snapshot): Promise<ResolveResult> {
    const digests = manifest.shards.map((r) => r.digest).join(',');
    const last = this.#last;
    if (last !== undefined && last.digests === digests && last.snapshot.pool === manifest.pool) {
      // Same shards as the last view (a heartbeat): only the header changed.
      const snapshot = { ...last.snapshot, epoch: manifest.epoch, seq: manifest.seq, time: manifest.time };
      this.#last = { ...last, snapshot };
      return {
        ok: true,
        snapshot,
        sum: last.sum,
        ...(previous === last.snapshot ? { changes: NO_CHANGES } : {}),
      };
    }
    const missing: string[] = [];
    const mismatched: string[] = [];
    const fetched = await Promise.all(
      manifest.shards.map(async (ref): Promise<Fetched> => {
        const cached = this.#cache.get(ref.digest);
        if (cached !== undefined) return { cached };
        return { entry: await kv.get(shardKey(this.#pool, ref.digest)) };
      }),
    );
    const contents = await runInSlices(readShards(manifest.shards, fetched, missing, mismatched), {
      pause: nextTurn,
    });
    const where = `manifest epoch ${manifest.epoch} seq ${manifest.seq}`;
    if (missing.length > 0) {
      return {
        ok: false,
        kind: 'incomplete',
        error: `${where}: ${missing.length} of ${manifest.shards.length} shards missing (first ${shardKey(this.#pool, missing[0] as string)})`,
      };
    }
    if (mismatched.length > 0) {
      return {
        ok: false,
        kind: 'mismatch',
        error: `${where}: ${mismatched.length} shards do not match: ${mismatched[0]}`,
      };
    }
    // Against the last view: the shards it had at the same index were placed then, and its sum moves.
    const base = last !== undefined && previous === last.snapshot ? last : undefined;
    const refs = manifest.shards.map((r) => r.digest);
    // A whole membership validated afresh (the first manifest, a mass change) is thousands of members:
    // the event loop runs between its steps.
    const steps = assembleSnapshotInSteps(
      manifest,
      contents as ShardContent[],
      previous,
      base === undefined
        ? {}
        : {
            previousSum: base.sum,
            ...(base.refs.length === refs.length
              ? { placed: refs.map((d, i) => base.refs[i] === d), previousContents: base.contents }
              : {}),
          },
    );
    const assembled: AssembleResult = await runInSlices(steps, { pause: nextTurn });
    if (!assembled.ok) {
      return {
        ok: false,
        kind: 'mismatch' in assembled ? 'mismatch' : 'invalid',
        error: `${where}: ${assembled.error}`,
      };
    }
    const next = new Map<string, ShardContent>();
    manifest.shards.forEach((ref, i) => {
      next.set(ref.digest, contents[i] as ShardContent);
    });
    this.#cache = next;
    this.#last = {
      digests,
      refs,
      contents: contents as ShardContent[],
      snapshot: assembled.snapshot,
      sum: assembled.sum,
    };
    return {
      ok: true,
      snapshot: assembled.snapshot,
      sum: assembled.sum,
      ...(assembled.changes === undefined ? {} : { changes: assembled.changes }),
    };
  }
}

/**
 * The pool's current snapshot, whatever its encoding: a manifest is resolved through its shards, a
 * single-value snapshot is returned as is. undefined when the key holds nothing.
 */
export async function readAssembledSnapshot(
  kv: KV,
  pool: string,
): Promise<{ ok: true; snapshot: Snapshot; revision: number } | { ok: false; error: string } | undefined> {
  const entry = await kv.get(pool);
  if (entry === null || entry.operation !== 'PUT') return undefined;
  const value = parseStoredValue(entry.string());
  if (value.kind === 'invalid') return { ok: false, error: value.error };
  if (value.kind === 'snapshot') return { ok: true, snapshot: value.snapshot, revision: entry.revision };
  const resolved = await new ShardedSnapshotReader(pool).resolve(kv, value.manifest);
  return resolved.ok
    ? { ok: true, snapshot: resolved.snapshot, revision: entry.revision }
    : { ok: false, error: resolved.error };
}
