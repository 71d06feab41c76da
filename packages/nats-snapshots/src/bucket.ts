import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeSnapshot, type Snapshot } from '@pdrouter/core';

/** The JetStream KV bucket holding one key per pool; the value is the canonical snapshot JSON. */
export const DEFAULT_SNAPSHOT_BUCKET = 'pdrouter-snapshots';
/** Revisions kept per key: enough to inspect the last few publications with `nats kv history`. */
export const DEFAULT_SNAPSHOT_HISTORY = 5;

export interface OpenSnapshotBucketOptions {
  bucket?: string;
  history?: number;
  /**
   * true (default): create the bucket when missing (the publisher). false: bind to it without any
   * stream-management call, for readers whose credentials may not allow creating streams; a missing
   * bucket then surfaces as an error on the first read or watch.
   */
  create?: boolean;
}

/** The connection behind each opened bucket, so a watch can follow the connection's reconnects. */
const bucketConnections = new WeakMap<KV, NatsConnection>();

export function connectionOfBucket(kv: KV): NatsConnection | undefined {
  return bucketConnections.get(kv);
}

export async function openSnapshotBucket(nc: NatsConnection, options: OpenSnapshotBucketOptions = {}): Promise<KV> {
  const name = options.bucket ?? DEFAULT_SNAPSHOT_BUCKET;
  const kvm = new Kvm(nc);
  const kv =
    options.create === false
      ? await kvm.open(name)
      : await kvm.create(name, { history: options.history ?? DEFAULT_SNAPSHOT_HISTORY });
  bucketConnections.set(kv, nc);
  return kv;
}

/** Another writer changed the key since the revision the publisher expected. */
export class RevisionConflictError extends Error {
  override readonly name = 'RevisionConflictError';
}

export interface PublishOptions {
  /**
   * Compare-and-set: the write succeeds only if the key is still at this revision (0: the key must not
   * exist), else RevisionConflictError. Without it the write is unconditional.
   */
  previousRevision?: number;
}

/** Writes the canonical encoding of `s` under its pool key; returns the new KV revision. */
export async function publishSnapshot(kv: KV, s: Snapshot, options: PublishOptions = {}): Promise<number> {
  const value = encodeSnapshot(s);
  const expected = options.previousRevision;
  if (expected === undefined) return kv.put(s.pool, value);
  try {
    return expected === 0 ? await kv.create(s.pool, value) : await kv.update(s.pool, value, expected);
  } catch (err) {
    if (isWrongLastSequence(err)) {
      throw new RevisionConflictError(`key ${s.pool} is no longer at revision ${expected}`);
    }
    throw err;
  }
}

/** JetStream's "wrong last sequence" API errors (10071, 10164): the key moved on. */
export function isWrongLastSequence(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 10071 || code === 10164 || /wrong last sequence/i.test((err as Error | null)?.message ?? '');
}

export interface StoredSnapshot {
  raw: string;
  revision: number;
  created: Date;
}

/** The current raw value for a pool, or undefined when the key was never written or was deleted. */
export async function readSnapshot(kv: KV, pool: string): Promise<StoredSnapshot | undefined> {
  const entry = await kv.get(pool);
  if (entry === null || entry.operation !== 'PUT') return undefined;
  return { raw: entry.string(), revision: entry.revision, created: entry.created };
}
