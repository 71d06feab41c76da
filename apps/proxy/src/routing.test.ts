import { ConsistentHashRing, fbiHash, PREFIX_BLOCK_CHARS, PREFIX_HASH_ID, prefixKey } from '@pdrouter/core';
import { metricSum } from '@pdrouter/testkit';
import { describe, expect, it } from 'vitest';
import { buildConfig } from './config.ts';
import type { Exchange } from './exchange.ts';
import { parseFlags } from './flags.ts';
import { ProxyMetrics } from './metrics.ts';
import { localLoadView, Routing } from './routing.ts';

const PREFILL = ['http://p1:8000', 'http://p2:8000'];
const DECODE = ['http://d1:8200', 'http://d2:8200', 'http://d3:8200'];

function routing(extra: string[]) {
  const config = buildConfig(
    parseFlags([
      '--pd-disaggregation',
      ...PREFILL.flatMap((u) => ['--prefill', u]),
      ...DECODE.flatMap((u) => ['--decode', u]),
      // No timer in tests: sweep() is called directly.
      ...['--eviction-interval', '0'],
      ...extra,
    ]),
  );
  const metrics = new ProxyMetrics({ defaultMetrics: false });
  const inFlight = new Map<string, number>();
  const r = new Routing({
    config,
    metrics,
    health: { isEjected: () => false },
    load: localLoadView({ inFlight: (u) => inFlight.get(u) ?? 0 }),
  });
  return { r, metrics, inFlight };
}

const text = 'system: You answer questions about the archive. '.repeat(30);
const ex = (t: string, tokens = 1000) => ({ hashKey: 'k', prefix: prefixKey(t), promptTokens: tokens }) as Exchange;
const decodeRing = new ConsistentHashRing(DECODE);

describe('Routing', () => {
  it('needs the routing text only for a scoring policy or selective P/D', () => {
    expect(routing([]).r.needsPrefix).toBe(false);
    expect(routing(['--decode-policy', 'cache_aware']).r.needsPrefix).toBe(true);
    expect(routing(['--pd-min-prompt-tokens', '16']).r.needsPrefix).toBe(true);
  });

  it('counts each decision by role, policy and reason, and learns the pod that served', async () => {
    const { r, metrics } = routing(['--policy', 'cache_aware']);
    const first = r.pick('decode', decodeRing, fbiHash('k'), ex(`${text}user: a`));
    expect(first.decision?.reason).toBe('ring_owner');
    const served = DECODE.find((u) => u !== first.order[0]) as string;
    r.learn('decode', ex(`${text}user: a`), served);
    expect(r.pick('decode', decodeRing, fbiHash('k'), ex(`${text}user: b`)).order[0]).toBe(served);
    const t = await metrics.text();
    expect(metricSum(t, 'pdrouter_routing_decisions_total', { role: 'decode', reason: 'ring_owner' })).toBe(1);
    expect(metricSum(t, 'pdrouter_routing_decisions_total', { role: 'decode', reason: 'prefix_match' })).toBe(1);
    expect(metricSum(t, 'pdrouter_prefix_index_entries', { role: 'decode' })).toBeGreaterThan(0);
  });

  it('skips prefill for a short prompt, or when the chosen decode pod served enough of the text', () => {
    const short = routing(['--pd-min-prompt-tokens', '64']).r;
    expect(short.skipPrefill(ex('hi', 1), undefined)).toBe('short_prompt');
    expect(short.skipPrefill(ex(text, 64), undefined)).toBeUndefined();
    const { r } = routing(['--decode-policy', 'cache_aware', '--pd-skip-prefill-cached-ratio', '0.9']);
    const e = ex(text);
    const cold = r.pick('decode', decodeRing, fbiHash('k'), e);
    expect(r.skipPrefill(e, cold.decision)).toBeUndefined();
    r.learn('decode', e, cold.order[0] as string);
    expect(r.skipPrefill(e, r.pick('decode', decodeRing, fbiHash('k'), e).decision)).toBe('decode_prefix_cached');
    // Another text sharing only part of it (below the ratio) runs both legs.
    const partial = ex(`${text.slice(0, text.length / 2)}user: something else entirely`);
    expect(r.skipPrefill(partial, r.pick('decode', decodeRing, fbiHash('k'), partial).decision)).toBeUndefined();
  });

  it('the sweep drops an over-budget index’s old generation and counts it; pods that leave are forgotten', async () => {
    const { r, metrics } = routing(['--policy', 'cache_aware', '--max-tree-size', '4096']);
    for (let i = 0; i < 20; i++) r.learn('prefill', ex(`${i} ${text}`), PREFILL[0] as string);
    const before = r.indexSizes().prefill?.entries ?? 0;
    r.sweep();
    const after = r.indexSizes().prefill?.entries ?? 0;
    expect(after).toBeLessThan(before);
    const t = await metrics.text();
    expect(metricSum(t, 'pdrouter_prefix_index_evictions_total', { role: 'prefill' })).toBe(before - after);
    r.setMembers('prefill', [PREFILL[1] as string]);
    expect(r.indexSizes().prefill?.entries).toBe(0);
    r.close();
  });

  it('a change key by key forgets the pods that left and admits those that joined, as setMembers does', () => {
    const config = buildConfig(
      parseFlags(['--pd-disaggregation', '--nats-url', 'nats://n:4222', '--prefill-policy', 'cache_aware']),
    );
    const r = new Routing({
      config,
      metrics: new ProxyMetrics({ defaultMetrics: false }),
      health: { isEjected: () => false },
      load: localLoadView({ inFlight: () => 0 }),
    });
    r.setMembers('prefill', PREFILL);
    for (let i = 0; i < 5; i++) r.learn('prefill', ex(`${i} ${text}`), PREFILL[0] as string);
    expect(r.indexSizes().prefill?.entries).toBeGreaterThan(0);
    r.changeMembers('prefill', ['http://p3:8000'], [PREFILL[0] as string]);
    expect(r.indexSizes().prefill?.entries).toBe(0);
    const roles = new Map([
      [
        'prefill' as const,
        new Map([
          [PREFILL[0] as string, [1]],
          ['http://p3:8000', [2]],
        ]),
      ],
    ]);
    expect(r.teach({ hash: PREFIX_HASH_ID, block: PREFIX_BLOCK_CHARS, roles })).toMatchObject({
      recorded: 1,
      notMember: 1,
    });
    r.close();
  });
});

describe("Routing.teach (peer replicas' learned blocks)", () => {
  it('records blocks for member pods of an indexed role, and counts the rest by why they were ignored', () => {
    const config = buildConfig(
      parseFlags(['--pd-disaggregation', '--nats-url', 'nats://n:4222', '--prefill-policy', 'cache_aware']),
    );
    const r = new Routing({
      config,
      metrics: new ProxyMetrics({ defaultMetrics: false }),
      health: { isEjected: () => false },
      load: localLoadView({ inFlight: () => 0 }),
    });
    r.setMembers('prefill', PREFILL);
    r.setMembers('decode', DECODE);
    const roles = new Map([
      [
        'prefill' as const,
        new Map([
          [PREFILL[0] as string, [1, 2]],
          ['http://gone:8000', [3]],
        ]),
      ],
      ['decode' as const, new Map([[DECODE[0] as string, [4, 5, 6]]])],
    ]);
    expect(r.teach({ hash: PREFIX_HASH_ID, block: PREFIX_BLOCK_CHARS, roles })).toEqual({
      recorded: 2,
      notMember: 1,
      incompatible: 0,
      notIndexed: 3,
    });
    expect(r.teach({ hash: 'other', block: PREFIX_BLOCK_CHARS, roles })).toEqual({
      recorded: 0,
      notMember: 0,
      incompatible: 3,
      notIndexed: 3,
    });
  });
});
