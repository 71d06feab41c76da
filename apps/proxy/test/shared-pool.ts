// The set-up the replica-agreement suites share: a real nats-server with one pool's snapshot of a sim
// process's pods in the bucket, proxies following it in distributed mode, and POST /admin/explain.
import type { NatsConnection } from '@nats-io/transport-node';
import { snapshotFromUrls } from '@pdrouter/core';
import { connectNats, openSnapshotBucket, publishSnapshot } from '@pdrouter/nats-snapshots';
import { type NatsServer, startNatsServer } from '@pdrouter/testkit';
import { request } from 'undici';
import type { E2EFixture } from './fixture.ts';
import { MODEL, type RunningProxy, type SimProcess, waitFor } from './helpers.ts';

export interface SharedPool {
  readonly nats: NatsServer;
  readonly sim: SimProcess;
  /** A proxy on this pool's snapshot (`flags` beyond --nats-url and --pool), once it is ready. */
  replica(flags: readonly string[]): Promise<RunningProxy>;
}

export async function startSharedPool(
  e2e: E2EFixture,
  pool: string,
  pods: { prefill: number; decode: number },
): Promise<SharedPool> {
  const nats = e2e.adopt('nats-server', await startNatsServer(), (n) => n.close());
  const writer: NatsConnection = e2e.adopt(
    'the publisher',
    await connectNats({ url: nats.url, name: 'test-publisher' }),
    (c) => c.close(),
  );
  const sim = await e2e.sim(pods);
  const kv = await openSnapshotBucket(writer);
  await publishSnapshot(kv, {
    ...snapshotFromUrls({ pool, prefill: sim.urls('prefill'), decode: sim.urls('decode') }),
    epoch: 1,
    seq: 1,
  });
  return {
    nats,
    sim,
    async replica(flags) {
      const p = await e2e.proxy(['--nats-url', nats.url, '--pool', pool, ...flags]);
      await waitFor('ready on the snapshot', async () => {
        const r = await request(`${p.url}/readiness`);
        await r.body.text();
        return r.statusCode === 200 ? true : undefined;
      });
      return p;
    },
  };
}

/** What the proxy would pick for a completion of `prompt` now (POST /admin/explain), parsed. */
export async function explainPrompt<T>(p: RunningProxy, prompt: string, maxTokens = 8): Promise<T> {
  const res = await request(`${p.url}/admin/explain`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt, max_tokens: maxTokens }),
  });
  const body = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`explain: ${res.statusCode} ${body}`);
  return JSON.parse(body) as T;
}
