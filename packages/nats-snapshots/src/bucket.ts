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

/** Writes the canonical encoding of `s` under its pool key; returns the KV revision. */
export async function publishSnapshot(kv: KV, s: Snapshot): Promise<number> {
  return kv.put(s.pool, encodeSnapshot(s));
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
