// The generated NATS auth against a real nats-server: discovery can create the bucket and publish, a
// proxy can read and watch but not write, and a client without credentials is refused. The calls are the
// ones the apps make (@pdrouter/nats-snapshots), so a permission the apps need and lack fails here.
import { snapshotFromUrls } from '@pdrouter/core';
import {
  connectNats,
  openSnapshotBucket,
  publishSnapshot,
  readSnapshot,
  watchSnapshots,
} from '@pdrouter/nats-snapshots';
import { type NatsServer, waitUntil, withDeadline } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsAuth } from '../src/nats-auth/generate.ts';
import { NATS_SECRETS, natsSecretsYaml } from '../src/nats-auth/secrets.ts';
import { parseObjects } from '../src/renderer/render.ts';
import { type AuthNatsServer, type NatsUser, startAuthNatsServer } from './support/nats-auth-server.ts';

/** A refused write surfaces as a rejected request; a loaded machine may take a while to say so. */
const REFUSAL_DEADLINE_MS = 15_000;
const WATCH_DEADLINE_MS = 10_000;

describe('NATS auth from gen-nats-auth', () => {
  let nats: AuthNatsServer;
  let auth: NatsAuth;
  let server: NatsServer;
  const connectAs = (user: NatsUser) => nats.connectAs(user);

  beforeAll(async () => {
    nats = await startAuthNatsServer();
    auth = nats.auth;
    server = nats.server;
  });

  afterAll(async () => {
    await nats?.close();
  });

  it('lets discovery create the bucket, publish and read back', async () => {
    const kv = await openSnapshotBucket(await connectAs('discovery'));
    const snapshot = {
      ...snapshotFromUrls({ prefill: ['http://10.0.0.1:8000'], decode: ['http://10.0.0.2:8200'] }),
      seq: 1,
    };
    await publishSnapshot(kv, snapshot);
    expect((await readSnapshot(kv, 'default'))?.raw).toContain('10.0.0.1');
  });

  it('lets a proxy read and watch the pool without creating anything', async () => {
    const kv = await openSnapshotBucket(await connectAs('proxy'), { create: false });
    expect((await readSnapshot(kv, 'default'))?.raw).toContain('10.0.0.2');
    const seen: string[] = [];
    const errors: Error[] = [];
    const watch = await watchSnapshots(kv, 'default', (raw) => seen.push(raw), { onError: (e) => errors.push(e) });
    try {
      await waitUntil(() => seen.length > 0 || undefined, {
        timeoutMs: WATCH_DEADLINE_MS,
        description: 'first watched value',
      });
      // An update by discovery reaches the proxy's watch.
      const writer = await openSnapshotBucket(await connectAs('discovery'));
      await publishSnapshot(writer, {
        ...snapshotFromUrls({ prefill: ['http://10.0.0.3:8000'], decode: ['http://10.0.0.2:8200'] }),
        seq: 2,
      });
      await waitUntil(() => seen.some((raw) => raw.includes('10.0.0.3')) || undefined, {
        timeoutMs: WATCH_DEADLINE_MS,
        description: 'update through the watch',
      });
      expect(errors).toEqual([]);
    } finally {
      await watch.stop();
    }
  });

  it('refuses a proxy that writes a snapshot or creates a bucket', async () => {
    const kv = await openSnapshotBucket(await connectAs('proxy'), { create: false });
    const forged = {
      ...snapshotFromUrls({ prefill: ['http://6.6.6.6:8000'], decode: ['http://6.6.6.6:8200'] }),
      seq: 99,
    };
    // The server's own refusal, not a deadline: a timeout would hide a server that never answered.
    await expect(withDeadline(publishSnapshot(kv, forged), REFUSAL_DEADLINE_MS, 'refused put')).rejects.toThrow(
      /permissions violation/i,
    );
    await expect(
      withDeadline(
        openSnapshotBucket(await connectAs('proxy'), { bucket: 'other' }),
        REFUSAL_DEADLINE_MS,
        'refused create',
      ),
    ).rejects.toThrow(/permissions violation/i);
    const reader = await openSnapshotBucket(await connectAs('discovery'));
    expect((await readSnapshot(reader, 'default'))?.raw).not.toContain('6.6.6.6');
  });

  it("refuses a proxy that deletes a consumer, so it cannot silence another proxy's watch", async () => {
    const proxy = await connectAs('proxy');
    // The subject itself is refused, whichever consumer it names (ephemeral names are random).
    await expect(
      withDeadline(
        proxy.request('$JS.API.CONSUMER.DELETE.KV_pdrouter-snapshots.another-proxys-watch'),
        REFUSAL_DEADLINE_MS,
        'refused delete',
      ),
    ).rejects.toThrow(/permissions violation/i);
  });

  it('refuses a client without credentials', async () => {
    await expect(connectNats({ url: server.url, name: 'anonymous' })).rejects.toThrow(/authorization|auth/i);
  });

  it('emits the three Secrets the manifests mount', () => {
    const secrets = parseObjects(natsSecretsYaml(auth, 'llm-d-llama31'));
    expect(secrets.map((s) => s.metadata.name)).toEqual([
      NATS_SECRETS.config.name,
      NATS_SECRETS.discovery.name,
      NATS_SECRETS.proxy.name,
    ]);
    for (const s of secrets) expect(s.metadata.namespace).toBe('llm-d-llama31');
    const data = secrets.map((s) => s.stringData as Record<string, string>);
    expect(data[0]?.['nats.conf']).toBe(auth.serverConfig);
    expect(data[1]?.['nats.creds']).toBe(auth.discoveryCreds);
    expect(data[2]?.['nats.creds']).toBe(auth.proxyCreds);
  });
});
