// load_aware reading what the pods say about themselves, end to end: a real sim process (2 prefill +
// 4 decode pods, decode-3 at 0.3x speed), proxies on real ports scraping the pods' /metrics. Which decode
// pod served is read from the pods' own counters; which pod owns a prompt on the ring, from the proxy's
// POST /admin/explain while the fleet is idle (load_aware then picks the owner).
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import { adminState, MODEL, type RunningProxy, type SimProcess, waitFor } from './helpers.ts';
import { explainPrompt } from './shared-pool.ts';

const SLOW = 'decode-3';

const e2e = e2eFixture();
let sim: SimProcess;

beforeAll(async () => {
  sim = await e2e.sim({ prefill: 2, decode: 4, flags: ['--pod-speed', `${SLOW}=0.3`] });
});

const proxy = (args: string[]): Promise<RunningProxy> => e2e.pdProxy(sim, args);

interface Explained {
  roles: { decode: { pod: string; reason?: string; scores?: { url: string; queue: number }[] } };
}

const explain = (p: RunningProxy, prompt: string): Promise<Explained> => explainPrompt<Explained>(p, prompt);

const nameOf = (url: string) => sim.pods.find((p) => p.url === url)?.name as string;

/** `perPod` prompts owned by each decode pod on the ring, asked of an idle proxy (load_aware then picks the owner). */
async function promptsByOwner(p: RunningProxy, perPod: number, tag: string): Promise<Map<string, string[]>> {
  const byOwner = new Map<string, string[]>(sim.urls('decode').map((u) => [nameOf(u), []]));
  for (let i = 0; [...byOwner.values()].some((l) => l.length < perPod); i++) {
    if (i > perPod * 40) throw new Error('the ring gives some decode pod almost no keys');
    const prompt = `${i} ${tag}: write a short note about item number ${i * 7919} of the catalogue.`;
    const owner = nameOf((await explain(p, prompt)).roles.decode.pod);
    const list = byOwner.get(owner) as string[];
    if (list.length < perPod) list.push(prompt);
  }
  return byOwner;
}

/** The same number of prompts owned by each decode pod, interleaved. */
async function promptsOwnedEvenly(p: RunningProxy, perPod: number, tag: string): Promise<string[]> {
  const lists = [...(await promptsByOwner(p, perPod, tag)).values()];
  return Array.from({ length: perPod }, (_, i) => lists.map((l) => l[i] as string)).flat();
}

async function complete(p: RunningProxy, prompt: string, maxTokens: number): Promise<void> {
  const res = await request(`${p.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt, max_tokens: maxTokens, ignore_eos: true }),
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`completion: ${res.statusCode} ${text}`);
}

/** Decode legs each decode pod served between two reads of the sim's counters. */
async function decodeLegs(run: () => Promise<void>): Promise<Record<string, number>> {
  const before = await sim.stats();
  await run();
  const after = await sim.stats();
  return Object.fromEntries(
    sim
      .urls('decode')
      .map(nameOf)
      .map((n) => [n, Number(after[n]?.remotePrefillHits) - Number(before[n]?.remotePrefillHits)]),
  );
}

describe('load_aware with pod gauges', () => {
  it('a slow pod gets clearly less than its fair share under concurrent load', async () => {
    const p = await proxy(['--policy', 'load_aware', '--pod-metrics-interval-ms', '200']);
    // Every decode pod owns exactly a quarter of these prompts: routed by the ring alone, the slow pod
    // would serve its fair share.
    const prompts = await promptsOwnedEvenly(p, 80, 'slow');
    const CONCURRENCY = 24;
    let next = 0;
    const legs = await decodeLegs(async () => {
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < prompts.length) await complete(p, prompts[next++] as string, 32);
        }),
      );
    });
    const total = Object.values(legs).reduce((a, b) => a + b, 0);
    expect(total).toBe(prompts.length);
    const share = (legs[SLOW] as number) / total;
    console.log(`slow pod share under load_aware: ${(share * 100).toFixed(1)}% (fair 25%)`, legs);
    // By the ring alone it would serve exactly 25%. load_aware moves its keys away while its queue's
    // load score is more than the ring weight (0.3) above a neighbour's, which settles near 13% here
    // (measured 13.4-13.8% over runs); 20% leaves room for a loaded machine.
    expect(share).toBeLessThan(0.2);
  });

  it('a pod busy with traffic the proxy never saw is avoided once its /metrics says so, and only then', async () => {
    const scraping = await proxy(['--policy', 'load_aware', '--pod-metrics-interval-ms', '200']);
    const blind = await proxy(['--policy', 'load_aware', '--pod-metrics-interval-ms', '0']);
    const busyUrl = sim.urls('decode')[1] as string;
    const busy = nameOf(busyUrl);
    const mine = (await promptsByOwner(scraping, 6, 'busy')).get(busy) as string[];
    expect(mine).toHaveLength(6);

    // 24 long requests straight to the pod (a client bypassing this router), cut when the test ends.
    const stop = new AbortController();
    const background = Array.from({ length: 24 }, (_, i) =>
      request(`${busyUrl}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, prompt: `background ${i}`, max_tokens: 4000, ignore_eos: true }),
        signal: stop.signal,
      }).then(
        (r) => r.body.text(),
        () => '',
      ),
    );
    try {
      await waitFor('the busy pod reports its queue', async () => {
        const s = await adminState<{
          load: { podMetrics: { url: string; fresh: boolean; signals?: { running: number; waiting: number } }[] };
        }>(scraping.url);
        const g = s.load.podMetrics.find((x) => x.url === busyUrl);
        return g?.fresh && (g.signals?.running ?? 0) + (g.signals?.waiting ?? 0) >= 20 ? true : undefined;
      });
      // The proxy that reads no gauges still sends these to their ring owner.
      for (const prompt of mine) expect(nameOf((await explain(blind, prompt)).roles.decode.pod)).toBe(busy);
      const e = await explain(scraping, mine[0] as string);
      expect(e.roles.decode.scores?.find((s) => s.url === busyUrl)?.queue).toBeGreaterThanOrEqual(20);
      const legs = await decodeLegs(async () => {
        for (const prompt of mine) await complete(scraping, prompt, 8);
      });
      expect(legs[busy]).toBe(0);
      expect(Object.values(legs).reduce((a, b) => a + b, 0)).toBe(mine.length);
    } finally {
      stop.abort();
      await Promise.all(background);
    }
  });
});
