import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { type NatsServer, startNatsServer, waitUntil } from '@pdrouter/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, openSnapshotBucket, type SnapshotWatch, watchSnapshots } from '../src/index.ts';

let server: NatsServer;
const connections: NatsConnection[] = [];
const watches: SnapshotWatch[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterEach(async () => {
  for (const w of watches.splice(0)) await w.stop();
  for (const nc of connections.splice(0)) await nc.close();
});
afterAll(async () => {
  await server?.close();
});

async function open(bucket: string, create = true): Promise<KV> {
  const nc = await connectNats({ url: server.url, name: 'test' });
  connections.push(nc);
  return openSnapshotBucket(nc, { bucket, create });
}

function collector(): { values: string[]; onValue: (raw: string) => void } {
  const values: string[] = [];
  return { values, onValue: (raw) => values.push(raw) };
}

describe('watchSnapshots', () => {
  it('delivers the current value first, then updates, skipping deletes and repeats', async () => {
    const kv = await open('watch-basic');
    await kv.put('other', 'ignored');
    await kv.put('pool-a', 'v1');
    await kv.put('pool-a', 'v2');
    const seen = collector();
    watches.push(await watchSnapshots(kv, 'pool-a', seen.onValue));
    await waitUntil(() => seen.values.length === 1, { description: 'the current value' });
    expect(seen.values).toEqual(['v2']);
    await kv.put('pool-a', 'v2');
    await kv.delete('pool-a');
    await kv.put('other', 'still ignored');
    await kv.put('pool-a', 'v3');
    await waitUntil(() => seen.values.length === 2, { description: 'the update' });
    expect(seen.values).toEqual(['v2', 'v3']);
  });

  it('resolves even when the key does not exist yet and delivers the first put', async () => {
    const kv = await open('watch-empty');
    const seen = collector();
    watches.push(await watchSnapshots(kv, 'late', seen.onValue));
    expect(seen.values).toEqual([]);
    await kv.put('late', 'first');
    await waitUntil(() => seen.values.length === 1, { description: 'the first put' });
    expect(seen.values).toEqual(['first']);
  });

  it('keeps retrying while the bucket is missing and picks it up once created', async () => {
    const reader = await open('watch-missing', false);
    const errors: Error[] = [];
    const seen = collector();
    watches.push(await watchSnapshots(reader, 'p', seen.onValue, { onError: (e) => errors.push(e), retryMaxMs: 300 }));
    await waitUntil(() => errors.length >= 1, { description: 'a reported failure' });
    const writer = await open('watch-missing', true);
    await writer.put('p', 'created');
    await waitUntil(() => seen.values.length === 1, { timeoutMs: 15_000, description: 'the value after creation' });
    expect(seen.values).toEqual(['created']);
  });

  it('survives nats-server being killed and restarted: updates resume without a new watch', async () => {
    const kv = await open('watch-restart');
    await kv.put('pool', 'before');
    const seen = collector();
    let restarts = 0;
    watches.push(await watchSnapshots(kv, 'pool', seen.onValue, { onRestart: () => restarts++ }));
    await waitUntil(() => seen.values.length === 1, { description: 'the value before the outage' });

    await server.kill();
    await server.start();
    // A fresh client writes after the restart; the old watcher must see it through its re-created watch.
    const writer = await open('watch-restart');
    await writer.put('pool', 'after');
    await waitUntil(() => seen.values.includes('after'), {
      timeoutMs: 20_000,
      description: 'the update published after the restart',
    });
    expect(seen.values).toEqual(['before', 'after']);
    expect(restarts).toBeGreaterThanOrEqual(1);
  });

  it('stop() ends the watch: later puts are not delivered', async () => {
    const kv = await open('watch-stop');
    await kv.put('k', 'a');
    const seen = collector();
    const w = await watchSnapshots(kv, 'k', seen.onValue);
    await waitUntil(() => seen.values.length === 1, { description: 'the first value' });
    await w.stop();
    await kv.put('k', 'b');
    // A sentinel watch proves the put was delivered to watchers while the stopped one stayed silent.
    const sentinel = collector();
    watches.push(await watchSnapshots(kv, 'k', sentinel.onValue));
    await waitUntil(() => sentinel.values.includes('b'), { description: 'the sentinel to see b' });
    expect(seen.values).toEqual(['a']);
  });
});
