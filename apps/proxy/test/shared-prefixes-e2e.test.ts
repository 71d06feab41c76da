// Replicas agree on where a prefix is cached (docs/design.md §3.6): two cache_aware proxies on one real
// nats-server, following the same snapshot. A conversation's first turn goes to replica A; its second turn
// is asked of replica B (POST /admin/explain). With prefix sharing B has recorded the blocks A learned and
// names the pod that served the first turn as a prefix match; with --prefix-share-max-blocks 0 B has
// never seen the prefix and treats it as cold.
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import { MODEL, metricValue, type RunningProxy, scrape, waitFor } from './helpers.ts';
import { explainPrompt, type SharedPool, startSharedPool } from './shared-pool.ts';

const POOL = 'prefixes';
const SHARE_INTERVAL_MS = 100;
const CONVERSATIONS = 8;

const e2e = e2eFixture();
let pool: SharedPool;

beforeAll(async () => {
  pool = await startSharedPool(e2e, POOL, { prefill: 4, decode: 4 });
});

const replica = (maxBlocks: number): Promise<RunningProxy> =>
  pool.replica([
    ...['--pd-disaggregation', '--policy', 'cache_aware'],
    ...['--load-share-interval-ms', String(SHARE_INTERVAL_MS), '--prefix-share-max-blocks', String(maxBlocks)],
  ]);

interface RolePick {
  pod: string;
  reason: string;
}

async function explain(p: RunningProxy, prompt: string): Promise<Record<'prefill' | 'decode', RolePick>> {
  return (await explainPrompt<{ roles: Record<'prefill' | 'decode', RolePick> }>(p, prompt)).roles;
}

async function complete(p: RunningProxy, prompt: string): Promise<void> {
  const res = await request(`${p.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt, max_tokens: 8 }),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`completion: ${res.statusCode} ${text}`);
}

const blocks = async (p: RunningProxy, direction: 'in' | 'out', result: string) =>
  metricValue(await scrape(p.metricsUrl), 'pdrouter_prefix_share_blocks_total', { direction, result });

/** A long system prompt of its own per conversation (about 20 blocks of routing text). */
const firstTurn = (tag: string, i: number) =>
  `${`system ${tag} ${i}: you are assistant number ${i}, answer briefly and precisely. `.repeat(40)}user: hello`;
const secondTurn = (tag: string, i: number) => `${firstTurn(tag, i)} assistant: hi. user: and then?`;

/** Every first turn through A; then, for each conversation, what B would pick for its second turn. */
async function secondTurnsOnB(a: RunningProxy, b: RunningProxy, tag: string, shared: boolean) {
  const served: Record<'prefill' | 'decode', string>[] = [];
  const before = shared ? await blocks(b, 'in', 'ok') : 0;
  for (let i = 0; i < CONVERSATIONS; i++) {
    await complete(a, firstTurn(tag, i));
    // What A learned: the pods A itself now names for the second turn (a prefix match on its own index).
    const own = await explain(a, secondTurn(tag, i));
    expect(own.prefill.reason).toBe('prefix_match');
    expect(own.decode.reason).toBe('prefix_match');
    served.push({ prefill: own.prefill.pod, decode: own.decode.pod });
  }
  if (shared) {
    // A sends what it learned with its next load message: wait until B has recorded the last conversation's.
    await waitFor("B has recorded A's blocks of the last conversation", async () => {
      const last = await explain(b, secondTurn(tag, CONVERSATIONS - 1));
      return last.prefill.reason === 'prefix_match' && last.decode.reason === 'prefix_match' ? true : undefined;
    });
    expect(await blocks(b, 'in', 'ok')).toBeGreaterThan(before);
    expect(await blocks(b, 'in', 'ok')).toBe(await blocks(a, 'out', 'ok'));
  }
  const onB = [];
  for (let i = 0; i < CONVERSATIONS; i++) onB.push(await explain(b, secondTurn(tag, i)));
  return { served, onB };
}

describe('two cache_aware proxies sharing what their prefix indexes learned', () => {
  it("B routes a conversation's next turn to the pods A served it on; without prefix sharing B sees a cold prefix", async () => {
    const [a, b] = [await replica(16384), await replica(16384)];
    try {
      await waitFor('each replica hears the other', async () => {
        const s = await Promise.all(
          [a, b].map(async (p) => metricValue(await scrape(p.metricsUrl), 'pdrouter_load_share_peers')),
        );
        return s.every((n) => n === 1) ? true : undefined;
      });
      const { served, onB } = await secondTurnsOnB(a, b, 'shared', true);
      for (let i = 0; i < CONVERSATIONS; i++) {
        for (const role of ['prefill', 'decode'] as const) {
          expect(onB[i]?.[role].reason).toBe('prefix_match');
          expect(onB[i]?.[role].pod).toBe(served[i]?.[role]);
        }
      }
      // Nothing echoes: B routed nothing, so it had nothing of its own to send.
      expect(await blocks(b, 'out', 'ok')).toBe(0);
    } finally {
      for (const p of [a, b]) await p.close();
    }

    const [c, d] = [await replica(0), await replica(0)];
    try {
      const { onB } = await secondTurnsOnB(c, d, 'alone', false);
      for (const pick of onB) {
        expect(pick.prefill.reason).not.toBe('prefix_match');
        expect(pick.decode.reason).not.toBe('prefix_match');
      }
      expect(await blocks(c, 'out', 'ok')).toBe(0);
    } finally {
      for (const p of [c, d]) await p.close();
    }
  });
});
