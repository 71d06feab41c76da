import type { NatsConnection } from '@nats-io/transport-node';
import { encodeSnapshot, parseSnapshot, type Snapshot } from '@pdrouter/core';
import { type NatsServer, startNatsServer } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, openSnapshotBucket, publishSnapshot, RevisionConflictError, readSnapshot } from '../src/index.ts';

let server: NatsServer;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url, name: 'bucket-test' });
});
afterAll(async () => {
  await nc?.close();
  await server?.close();
});

const snapshot: Snapshot = {
  pool: 'pool-x',
  epoch: 5,
  seq: 9,
  time: '2026-01-01T00:00:00.000Z',
  members: {
    prefill: [{ name: 'p-1', uid: 'u1', url: 'http://10.0.0.1:8000', ready: true, bootstrapPort: 8998 }],
    decode: [{ name: 'd-1', uid: 'u2', url: 'http://10.0.0.2:8000', ready: true }],
    plain: [],
  },
};

describe('snapshot bucket', () => {
  it('publishes the canonical encoding under the pool key and reads it back', async () => {
    const kv = await openSnapshotBucket(nc, { bucket: 'bucket-roundtrip' });
    const revision = await publishSnapshot(kv, snapshot);
    const stored = await readSnapshot(kv, 'pool-x');
    expect(stored?.revision).toBe(revision);
    expect(stored?.raw).toBe(encodeSnapshot(snapshot));
    const parsed = parseSnapshot(stored?.raw);
    expect(parsed).toEqual({ ok: true, snapshot });
    expect(await readSnapshot(kv, 'other-pool')).toBeUndefined();
  });

  it('create: false binds to an existing bucket, and a missing bucket fails on use', async () => {
    await openSnapshotBucket(nc, { bucket: 'bucket-bind' });
    const bound = await openSnapshotBucket(nc, { bucket: 'bucket-bind', create: false });
    expect(await readSnapshot(bound, 'nothing')).toBeUndefined();
    const missing = await openSnapshotBucket(nc, { bucket: 'bucket-never-created', create: false });
    await expect(readSnapshot(missing, 'k')).rejects.toThrow();
  });

  it('keeps the configured history per key', async () => {
    const kv = await openSnapshotBucket(nc, { bucket: 'bucket-history', history: 2 });
    for (let seq = 1; seq <= 4; seq++) await publishSnapshot(kv, { ...snapshot, seq });
    const status = await kv.status();
    expect(status.history).toBe(2);
    expect(status.values).toBe(2);
  });
});

describe('compare-and-set publication', () => {
  it('writes only over the expected revision and reports a conflict otherwise', async () => {
    const kv = await openSnapshotBucket(nc, { bucket: 'bucket-cas' });
    const first = await publishSnapshot(kv, snapshot, { previousRevision: 0 });
    await expect(publishSnapshot(kv, { ...snapshot, seq: 10 }, { previousRevision: 0 })).rejects.toBeInstanceOf(
      RevisionConflictError,
    );
    const second = await publishSnapshot(kv, { ...snapshot, seq: 10 }, { previousRevision: first });
    expect(second).toBeGreaterThan(first);
    await kv.put('pool-x', 'written by someone else');
    await expect(publishSnapshot(kv, { ...snapshot, seq: 11 }, { previousRevision: second })).rejects.toThrow(
      /no longer at revision/,
    );
    expect((await readSnapshot(kv, 'pool-x'))?.raw).toBe('written by someone else');
  });
});
