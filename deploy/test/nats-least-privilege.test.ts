// Least privilege of the proxy's NATS credential against a real nats-server with the generated auth: a
// proxy subscribes only below its own inbox prefix (so it reads no other user's replies or consumer
// deliveries), may create only filtered consumers on the snapshot stream through the API nats.js's ordered
// consumers use, and can neither delete, inspect nor list consumers, nor create them elsewhere. A proxy's
// watch still works with exactly these permissions (and the seed e2e runs a real proxy with them). Proxies
// share their in-flight counts on pdrouter.load.<bucket>.<pool> (core NATS) and on nothing else.
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { loadShareSubject, snapshotFromUrls } from '@pdrouter/core';
import {
  inboxPrefixOfCreds,
  openSnapshotBucket,
  publishSnapshot,
  readAssembledSnapshot,
  readSnapshot,
  ShardedSnapshotWriter,
  shardKey,
  watchSnapshots,
} from '@pdrouter/nats-snapshots';
import { LoadShare, ProxyMetrics, silentLogger } from '@pdrouter/proxy';
import { type NatsServer, runCommand, waitUntil, withDeadline } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsAuth } from '../src/nats-auth/generate.ts';
import { type AuthNatsServer, type NatsUser, startAuthNatsServer } from './support/nats-auth-server.ts';

const REFUSAL_DEADLINE_MS = 15_000;
const REPO = join(import.meta.dirname, '..', '..');
const STREAM = 'KV_pdrouter-snapshots';
const KEY_SUBJECT = '$KV.pdrouter-snapshots.default';
const LOAD_SUBJECT = loadShareSubject('pdrouter-snapshots', 'default');

describe('the proxy credential: its own inbox, its own filtered consumers, nothing else', () => {
  let nats: AuthNatsServer;
  let auth: NatsAuth;
  let server: NatsServer;
  const connectAs = (user: NatsUser) => nats.connectAs(user);
  const refused = (p: Promise<unknown>, what: string) =>
    expect(withDeadline(p, REFUSAL_DEADLINE_MS, what)).rejects.toThrow(/permissions violation/i);
  /** A JetStream API request as a client of our own would send it (the subject is what is refused). */
  const api = (nc: NatsConnection, subject: string, body: unknown = {}) =>
    nc.request(subject, JSON.stringify(body), { timeout: REFUSAL_DEADLINE_MS });

  beforeAll(async () => {
    nats = await startAuthNatsServer();
    auth = nats.auth;
    server = nats.server;
    const kv = await openSnapshotBucket(await connectAs('discovery'));
    await publishSnapshot(kv, {
      ...snapshotFromUrls({ prefill: ['http://10.0.0.1:8000'], decode: ['http://10.0.0.2:8200'] }),
      seq: 1,
    });
  });

  afterAll(async () => {
    await nats?.close();
  });

  it('gives each user an inbox prefix of its own, which the clients read from their credential', () => {
    expect(inboxPrefixOfCreds(auth.proxyCreds)).toBe('_INBOX_proxy');
    expect(inboxPrefixOfCreds(auth.discoveryCreds)).toBe('_INBOX_discovery');
  });

  it("cannot subscribe to another user's inboxes, the default inbox space, advisories or everything", async () => {
    const proxy = await connectAs('proxy');
    for (const subject of ['_INBOX.>', '_INBOX_discovery.>', '>', '$JS.EVENT.>', `${KEY_SUBJECT}`]) {
      const sub = proxy.subscribe(subject);
      const closed = await withDeadline(sub.closed, REFUSAL_DEADLINE_MS, `refused subscription to ${subject}`);
      expect(String(closed)).toMatch(/permissions violation/i);
    }
    // Discovery's own requests still get their replies on its own prefix.
    const reader = await openSnapshotBucket(await connectAs('discovery'));
    expect((await readSnapshot(reader, 'default'))?.raw).toContain('10.0.0.1');
  });

  it('may not create consumers other than filtered ones on the snapshot stream, nor delete, inspect or list any', async () => {
    const proxy = await connectAs('proxy');
    const ephemeral = { stream_name: STREAM, config: { deliver_subject: '_INBOX_proxy.x', ack_policy: 'none' } };
    await refused(api(proxy, `$JS.API.CONSUMER.CREATE.${STREAM}`, ephemeral), 'legacy ephemeral create');
    await refused(
      api(proxy, `$JS.API.CONSUMER.DURABLE.CREATE.${STREAM}.durable`, {
        stream_name: STREAM,
        config: { durable_name: 'durable', ack_policy: 'explicit' },
      }),
      'durable create',
    );
    await refused(api(proxy, `$JS.API.CONSUMER.CREATE.${STREAM}.whole-stream`, ephemeral), 'unfiltered create');
    await refused(api(proxy, '$JS.API.CONSUMER.CREATE.KV_other.c.$KV.other.>', ephemeral), 'another stream');
    await refused(api(proxy, `$JS.API.CONSUMER.NAMES.${STREAM}`), 'consumer names');
    await refused(api(proxy, `$JS.API.CONSUMER.LIST.${STREAM}`), 'consumer list');
    await refused(api(proxy, `$JS.API.CONSUMER.INFO.${STREAM}.someone-elses`), 'consumer info');
    await refused(api(proxy, `$JS.API.CONSUMER.DELETE.${STREAM}.someone-elses`), 'consumer delete');
    await refused(api(proxy, `$JS.API.STREAM.NAMES`), 'stream names');
  });

  it("watches the pool with exactly these permissions, and another proxy's refused calls do not disturb it", async () => {
    const kv = await openSnapshotBucket(await connectAs('proxy'), { create: false });
    const seen: string[] = [];
    const errors: Error[] = [];
    const watch = await watchSnapshots(kv, 'default', (raw) => seen.push(raw), { onError: (e) => errors.push(e) });
    try {
      await waitUntil(() => seen.length > 0 || undefined, { timeoutMs: 10_000, description: 'the first value' });
      const other = await connectAs('proxy');
      await refused(api(other, `$JS.API.CONSUMER.NAMES.${STREAM}`), 'names from another proxy');
      const writer = await openSnapshotBucket(await connectAs('discovery'));
      await publishSnapshot(writer, {
        ...snapshotFromUrls({ prefill: ['http://10.0.0.3:8000'], decode: ['http://10.0.0.2:8200'] }),
        seq: 2,
      });
      await waitUntil(() => seen.some((raw) => raw.includes('10.0.0.3')) || undefined, {
        timeoutMs: 10_000,
        description: 'the update through the watch',
      });
      expect(errors).toEqual([]);
    } finally {
      await watch.stop();
    }
  });

  it('discovery writes, lists and purges shards; the proxy reads them and may neither write nor purge', async () => {
    const discoveryKv = await openSnapshotBucket(await connectAs('discovery'));
    let now = Date.now();
    const writer = new ShardedSnapshotWriter('sharded', { graceMs: 1_000, now: () => now });
    const s1 = {
      ...snapshotFromUrls({ pool: 'sharded', prefill: ['http://10.0.1.1:8000'], decode: ['http://10.0.1.2:8200'] }),
      seq: 1,
    };
    const first = await writer.publish(discoveryKv, s1, 0);
    const s2 = {
      ...snapshotFromUrls({ pool: 'sharded', prefill: ['http://10.0.1.1:8000'], decode: ['http://10.0.1.3:8200'] }),
      seq: 2,
    };
    await writer.publish(discoveryKv, s2, first.revision);
    expect(await writer.collect(discoveryKv)).toEqual({ purged: 0, pending: 1 });
    now += 2_000;
    expect(await writer.collect(discoveryKv)).toEqual({ purged: 1, pending: 0 });

    const proxyKv = await openSnapshotBucket(await connectAs('proxy'), { create: false });
    const read = await readAssembledSnapshot(proxyKv, 'sharded');
    expect(read?.ok && read.snapshot.members.decode.map((m) => m.url)).toEqual(['http://10.0.1.3:8200']);
    await refused(proxyKv.put(shardKey('sharded', '0'.repeat(32)), '{}'), 'shard write by a proxy');
    await refused(
      api(await connectAs('proxy'), `$JS.API.STREAM.PURGE.${STREAM}`, { filter: '$KV.pdrouter-snapshots.>' }),
      'stream purge by a proxy',
    );
  });

  it("shares load on its pool's subject with exactly these permissions: two proxies hear each other", async () => {
    const shares = ['a', 'b'].map(
      (id) =>
        new LoadShare({
          settings: { subject: LOAD_SUBJECT, intervalMs: 50, staleMs: 1000, prefixMaxBlocks: 0 },
          nats: { url: server.url, credsFile: nats.credsFile('proxy') },
          localCounts: () => [['http://10.0.0.2:8200', id === 'a' ? 2 : 3]],
          metrics: new ProxyMetrics({ defaultMetrics: false }),
          logger: silentLogger,
          replicaId: id,
        }),
    ) as [LoadShare, LoadShare];
    try {
      for (const s of shares) s.start();
      await waitUntil(
        () =>
          (shares[0].inFlight('http://10.0.0.2:8200') === 3 && shares[1].inFlight('http://10.0.0.2:8200') === 2) ||
          undefined,
        { timeoutMs: 10_000, description: "each proxy hears the other's counts" },
      );
    } finally {
      for (const s of shares) await s.close();
    }
  });

  it("may not subscribe to another bucket's load or all of pdrouter's subjects, nor publish there", async () => {
    const proxy = await connectAs('proxy');
    for (const subject of ['pdrouter.load.other-bucket.default', 'pdrouter.>', 'pdrouter.load.*']) {
      const sub = proxy.subscribe(subject);
      const closed = await withDeadline(sub.closed, REFUSAL_DEADLINE_MS, `refused subscription to ${subject}`);
      expect(String(closed)).toMatch(/permissions violation/i);
    }
    const publisher = await connectAs('proxy');
    const refusal = (async () => {
      for await (const s of publisher.status()) if (s.type === 'error') return String(s.error);
      return 'closed';
    })();
    publisher.publish('pdrouter.load.other-bucket.default', '{}');
    expect(await withDeadline(refusal, REFUSAL_DEADLINE_MS, 'refused publish')).toMatch(/permissions violation/i);
    // Discovery has no business with the load.
    const discovery = await connectAs('discovery');
    const sub = discovery.subscribe(LOAD_SUBJECT);
    expect(String(await withDeadline(sub.closed, REFUSAL_DEADLINE_MS, 'discovery refused'))).toMatch(
      /permissions violation/i,
    );
  });

  it('lets pdrouterctl read the pool with the proxy credential (its replies come to the proxy prefix)', async () => {
    const ctl = await runCommand(
      process.execPath,
      [
        'apps/ctl/src/main.ts',
        'route',
        '--snapshot',
        `${server.url}/default`,
        '--nats-creds',
        nats.credsFile('proxy'),
        '--key',
        'k',
      ],
      { cwd: REPO },
    );
    expect(ctl.code, ctl.stderr).toBe(0);
    expect(ctl.stdout).toMatch(/10\.0\.0\.[0-9]/);
  });
});
