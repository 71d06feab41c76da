// Distributed mode end to end: a real nats-server, snapshots published into the KV bucket the way the
// discovery leader does, the proxy (--nats-url) routing to a real sim process on them.
import type { NatsConnection } from '@nats-io/transport-node';
import { type Snapshot, snapshotFromUrls } from '@pdrouter/core';
import { connectNats, openSnapshotBucket, publishSnapshot } from '@pdrouter/nats-snapshots';
import { startNatsServer } from '@pdrouter/testkit';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import {
  adminState,
  MODEL,
  metricValue,
  type RunningProxy,
  type SimProcess,
  scrape,
  sumStat,
  waitFor,
} from './helpers.ts';

const POOL = 'e2e';

const e2e = e2eFixture();
let writer: NatsConnection;
let sim: SimProcess;
let router: RunningProxy;

function snapshotOf(seq: number, decode: string[]): Snapshot {
  return { ...snapshotFromUrls({ pool: POOL, prefill: sim.urls('prefill'), decode }), epoch: 1, seq };
}

async function complete(): Promise<number> {
  const res = await request(`${router.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: 'hello from nats', max_tokens: 2 }),
  });
  await res.body.text();
  return res.statusCode;
}

beforeAll(async () => {
  const nats = e2e.adopt('nats-server', await startNatsServer(), (n) => n.close());
  writer = e2e.adopt('the publisher', await connectNats({ url: nats.url, name: 'test-publisher' }), (c) => c.close());
  sim = await e2e.sim({ prefill: 1, decode: 2 });
  router = await e2e.proxy(['--pd-disaggregation', '--nats-url', nats.url, '--pool', POOL]);
});

describe('--nats-url', () => {
  it('is not ready and answers 503 until a snapshot arrives, then routes on it and follows updates', async () => {
    expect((await request(`${router.url}/readiness`)).statusCode).toBe(503);
    expect(await complete()).toBe(503);

    const kv = await openSnapshotBucket(writer);
    const [d0, d1] = sim.urls('decode') as [string, string];
    await publishSnapshot(kv, snapshotOf(1, [d0, d1]));
    await waitFor('readiness', async () => {
      const r = await request(`${router.url}/readiness`);
      await r.body.text();
      return r.statusCode === 200 ? true : undefined;
    });
    const before = await sim.stats();
    expect(await complete()).toBe(200);
    expect(sumStat(await sim.stats(), 'remotePrefillHits') - sumStat(before, 'remotePrefillHits')).toBe(1);

    // Only d1 left: every request now decodes there.
    await publishSnapshot(kv, snapshotOf(2, [d1]));
    await waitFor('seq 2 applied', async () =>
      metricValue(await scrape(router.metricsUrl), 'pdrouter_snapshot_seq') === 2 ? true : undefined,
    );
    const mid = await sim.stats();
    for (let i = 0; i < 3; i++) expect(await complete()).toBe(200);
    const after = await sim.stats();
    const d1Name = sim.pods.find((p) => p.url === d1)?.name as string;
    expect(Number(after[d1Name]?.remotePrefillHits) - Number(mid[d1Name]?.remotePrefillHits)).toBe(3);

    // An older snapshot is refused and counted; the ring stays.
    await publishSnapshot(kv, snapshotOf(1, [d0]));
    await waitFor('stale snapshot counted', async () =>
      metricValue(await scrape(router.metricsUrl), 'pdrouter_snapshots_rejected_total', { reason: 'stale' }) >= 1
        ? true
        : undefined,
    );
    const state = await adminState<{ snapshot: { seq: number }; rings: { decode: { members: string[] } } }>(router.url);
    expect(state.snapshot.seq).toBe(2);
    expect(state.rings.decode.members).toEqual([d1]);
  });
});
