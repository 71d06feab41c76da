import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Snapshot } from '@pdrouter/core';
import { connectNats, openSnapshotBucket } from '@pdrouter/nats-snapshots';
import { type NatsServer, startNatsServer, waitUntil } from '@pdrouter/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { natsSnapshotSource } from './nats-source.ts';
import type { SnapshotSource } from './snapshot-source.ts';

let server: NatsServer;
let writerConn: NatsConnection;
const sources: SnapshotSource[] = [];

beforeAll(async () => {
  server = await startNatsServer();
  writerConn = await connectNats({ url: server.url, name: 'writer' });
});
afterEach(async () => {
  for (const s of sources.splice(0)) await s.close();
});
afterAll(async () => {
  await writerConn?.close();
  await server?.close();
});

function snapshot(pool: string, seq: number, decode: string[]): Snapshot {
  const member = (role: string) => (name: string, i: number) => ({
    name: `${role}-${name}`,
    uid: `uid-${role}-${name}`,
    url: `http://10.0.0.${i + 1}:8000`,
    ready: true,
  });
  return {
    pool,
    epoch: 1,
    seq,
    time: new Date(1_700_000_000_000 + seq).toISOString(),
    members: { prefill: ['a'].map(member('prefill')), decode: decode.map(member('decode')), plain: [] },
  };
}

function recorder() {
  const applied: Snapshot[] = [];
  const rejected: string[] = [];
  const kinds: string[] = [];
  return {
    applied,
    rejected,
    kinds,
    apply: (s: Snapshot) => applied.push(s),
    reject: (r: string, kind = 'source') => {
      rejected.push(r);
      kinds.push(kind);
    },
  };
}

/** Deletes every consumer of the bucket's stream, as a lost server-side consumer (or another client) would. */
async function deleteConsumers(bucketName: string): Promise<number> {
  const stream = `KV_${bucketName}`;
  const list = (await writerConn.request(`$JS.API.CONSUMER.NAMES.${stream}`, '{}')).json<{ consumers: string[] }>();
  for (const name of list.consumers ?? []) await writerConn.request(`$JS.API.CONSUMER.DELETE.${stream}.${name}`);
  return list.consumers?.length ?? 0;
}

async function bucket(name: string): Promise<KV> {
  return openSnapshotBucket(writerConn, { bucket: name });
}

describe('natsSnapshotSource', () => {
  it('applies the current value first, then each update, and rejects a malformed one', async () => {
    const kv = await bucket('src-basic');
    await kv.put('pool-a', JSON.stringify(snapshot('pool-a', 1, ['x'])));
    const r = recorder();
    const source = natsSnapshotSource({ url: server.url, pool: 'pool-a', bucket: 'src-basic' });
    sources.push(source);
    await source.start(r.apply, r.reject);
    await waitUntil(() => r.applied.length === 1, { description: 'the current snapshot' });
    expect(r.applied[0]?.seq).toBe(1);

    await kv.put('pool-a', '{"pool":"pool-a","epoch":"not a number"');
    await waitUntil(() => r.rejected.length === 1, { description: 'the malformed value to be rejected' });
    await kv.put('pool-a', JSON.stringify(snapshot('pool-a', 2, ['x', 'y'])));
    await waitUntil(() => r.applied.length === 2, { description: 'the update' });
    expect(r.applied.map((s) => s.seq)).toEqual([1, 2]);
    expect(r.applied[1]?.members.decode.map((m) => m.name)).toEqual(['decode-x', 'decode-y']);
  });

  it('waits for a bucket that does not exist yet', async () => {
    const r = recorder();
    const source = natsSnapshotSource({ url: server.url, pool: 'p', bucket: 'src-later' });
    sources.push(source);
    await source.start(r.apply, r.reject);
    expect(r.applied).toEqual([]);
    const kv = await bucket('src-later');
    await kv.put('p', JSON.stringify(snapshot('p', 7, ['z'])));
    await waitUntil(() => r.applied.length === 1, { timeoutMs: 15_000, description: 'the first snapshot' });
    expect(r.applied[0]?.seq).toBe(7);
  });

  it('resolves start() while NATS is unreachable and connects once it is up', async () => {
    const late = await startNatsServer();
    try {
      await late.stop();
      const r = recorder();
      const source = natsSnapshotSource({ url: late.url, pool: 'p', bucket: 'src-down', firstConnectWaitMs: 300 });
      sources.push(source);
      await source.start(r.apply, r.reject);
      expect(r.rejected.some((reason) => reason.includes('nats'))).toBe(true);
      await late.start();
      const conn = await connectNats({ url: late.url, name: 'late-writer' });
      try {
        const kv = await openSnapshotBucket(conn, { bucket: 'src-down' });
        await kv.put('p', JSON.stringify(snapshot('p', 3, ['q'])));
        await waitUntil(() => r.applied.length === 1, {
          timeoutMs: 20_000,
          description: 'the snapshot after NATS came up',
        });
      } finally {
        await conn.close();
      }
    } finally {
      await late.close();
    }
  });

  it("rejects, each with its precise reason, a malformed value, another pool's snapshot and a far-future epoch", async () => {
    const kv = await bucket('src-reasons');
    await kv.put('pool-r', JSON.stringify(snapshot('pool-r', 1, ['x'])));
    const r = recorder();
    const source = natsSnapshotSource({ url: server.url, pool: 'pool-r', bucket: 'src-reasons' });
    sources.push(source);
    await source.start(r.apply, r.reject);
    await waitUntil(() => r.applied.length === 1, { description: 'the current snapshot' });
    await kv.put('pool-r', '{"pool":');
    await kv.put('pool-r', JSON.stringify(snapshot('other-pool', 2, ['y'])));
    await kv.put('pool-r', JSON.stringify({ ...snapshot('pool-r', 3, ['z']), epoch: Date.now() + 86_400_000 }));
    await kv.put('pool-r', JSON.stringify(snapshot('pool-r', 4, ['x', 'w'])));
    await waitUntil(() => r.applied.length === 2, {
      timeoutMs: 3_000,
      description: `the good update after the bad ones (${r.kinds.join()} ${r.rejected.join(' | ')})`,
    });
    expect(r.kinds).toEqual(['invalid', 'pool', 'future']);
    expect(r.rejected[1]).toMatch(/pool "other-pool"/);
    expect(r.applied.map((s) => s.seq)).toEqual([1, 4]);
  });

  it('a watch whose consumer was deleted goes silent: the watchdog re-creates it and updates flow again', async () => {
    const kv = await bucket('src-silent');
    await kv.put('pool-s', JSON.stringify(snapshot('pool-s', 1, ['x'])));
    const r = recorder();
    const restarts: string[] = [];
    const source = natsSnapshotSource({
      url: server.url,
      pool: 'pool-s',
      bucket: 'src-silent',
      silenceRestartMs: 400,
      onWatchRestart: (cause) => restarts.push(cause),
    });
    sources.push(source);
    await source.start(r.apply, r.reject);
    await waitUntil(() => r.applied.length === 1, { description: 'the current snapshot' });
    expect(await deleteConsumers('src-silent')).toBeGreaterThan(0);
    await waitUntil(() => restarts.includes('silent'), { description: 'the watchdog to re-create the watch' });
    await kv.put('pool-s', JSON.stringify(snapshot('pool-s', 2, ['x', 'y'])));
    await waitUntil(() => r.applied.length === 2, { description: 'the update after the re-created watch' });
    expect(r.applied[1]?.seq).toBe(2);
  });
  it('keeps the last good snapshot through a NATS restart and resumes with the next update', async () => {
    const kv = await bucket('src-restart');
    await kv.put('pool', JSON.stringify(snapshot('pool', 1, ['a'])));
    const r = recorder();
    const source = natsSnapshotSource({ url: server.url, pool: 'pool', bucket: 'src-restart' });
    sources.push(source);
    await source.start(r.apply, r.reject);
    await waitUntil(() => r.applied.length === 1, { description: 'the first snapshot' });

    await server.kill();
    await server.start();
    const conn = await connectNats({ url: server.url, name: 'after-restart' });
    try {
      const kv2 = await openSnapshotBucket(conn, { bucket: 'src-restart' });
      await kv2.put('pool', JSON.stringify(snapshot('pool', 2, ['a', 'b'])));
      await waitUntil(() => r.applied.some((s) => s.seq === 2), {
        timeoutMs: 20_000,
        description: 'the update after the restart',
      });
    } finally {
      await conn.close();
    }
    // Nothing but valid snapshots was applied, in order.
    expect(r.applied.map((s) => s.seq)).toEqual([1, 2]);
  });
});
