// pdrouterctl explain --policy: the scores of every pod and why one won, from the command line's inputs
// (served bodies, in-flight counts, pod gauges), through the real CLI process.
import {
  ConsistentHashRing,
  compareU64,
  extractHashKey,
  fbiHash,
  prefixColdHash,
  prefixKey,
  prefixRoutingText,
} from '@pdrouter/core';
import { POLICIES, PROXY_FLAGS } from '@pdrouter/proxy';
import { describe, expect, test } from 'vitest';
import { DEFAULT_BOUNDED_LOAD_FACTOR, EXPLAINED_POLICIES, UNEXPLAINED_POLICIES } from '../src/explain-scores.ts';
import { runCli } from './run-cli.ts';

const PREFILL = ['http://10.0.0.1:8000', 'http://10.0.0.2:8000', 'http://10.0.0.3:8000'];
const DECODE = ['http://10.0.1.1:8200', 'http://10.0.1.2:8200'];
const pods = [...PREFILL.flatMap((u) => ['--prefill', u]), ...DECODE.flatMap((u) => ['--decode', u])];
const system = 'You are the archive desk. Quote the handbook section by section. '.repeat(8);
const body = (q: string) => ({
  messages: [
    { role: 'system', content: system },
    { role: 'user', content: q },
  ],
});

interface Scored {
  scoring: {
    winner: string;
    reason: string;
    why: string;
    order: string[];
    note: string;
    scores: { url: string; prefix: number; load: number; ring: number; total?: number; inFlight: number }[];
  };
  owner: string;
}

async function explain(args: string[]): Promise<{ prefill: Scored; decode: Scored; promptTokensEstimate: number }> {
  const r = await runCli(['explain', ...pods, ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** The prefill ring owner of a body under vllm-router's P/D key. */
function prefillOwner(b: unknown): string {
  const key = extractHashKey(() => undefined, b, { mode: 'vllm-router' });
  return new ConsistentHashRing(PREFILL).walkHash(fbiHash(key))[0] as string;
}

/** The scoring policies' ring owner: the walk from the routing text's first block, as the proxy walks. */
function scoringOwner(b: Record<string, unknown>, urls: readonly string[]): string {
  const key = prefixKey(prefixRoutingText(b) ?? '');
  return new ConsistentHashRing(urls).walkHash(prefixColdHash(key))[0] as string;
}

describe('pdrouterctl explain --policy', () => {
  test('cache_aware: a served prefix wins above the threshold, with the scores and the reason', async () => {
    const asked = body('What does section 4 say?');
    const served = PREFILL.find((u) => u !== scoringOwner(asked, PREFILL)) as string;
    const out = await explain([
      ...['--policy', 'cache_aware', '--body', JSON.stringify(asked)],
      ...['--served', `${served}=${JSON.stringify(body('What does section 2 say?'))}`],
    ]);
    expect(out.prefill.scoring.winner).toBe(served);
    expect(out.prefill.scoring.reason).toBe('prefix_match');
    expect(out.prefill.scoring.why).toMatch(/--cache-threshold 0.3/);
    const s = out.prefill.scoring.scores.find((x) => x.url === served);
    expect(s?.prefix).toBeGreaterThan(0.9);
    expect(out.prefill.scoring.note).toMatch(/no live prefix index/);
    // Nothing was served on decode: the ring owner of the text's first block, whatever the key's owner.
    expect(out.decode.scoring.reason).toBe('ring_owner');
    expect(out.decode.scoring.winner).toBe(scoringOwner(asked, DECODE));
    expect(out.promptTokensEstimate).toBeGreaterThan(100);
  });

  test('cache_aware: an imbalanced fleet goes to the least loaded pod', async () => {
    const asked = body('Q');
    const owner = prefillOwner(asked);
    const out = await explain([
      ...['--policy', 'cache_aware', '--body', JSON.stringify(asked), '--balance-abs-threshold', '4'],
      ...PREFILL.filter((u) => u !== PREFILL[2]).map((u) => `--in-flight=${u}=10`),
      ...['--served', `${owner}=${JSON.stringify(asked)}`],
    ]);
    expect(out.prefill.scoring.winner).toBe(PREFILL[2]);
    expect(out.prefill.scoring.reason).toBe('least_loaded');
  });

  test('load_aware: weighted totals, and pod gauges count as load', async () => {
    const asked = body('Q');
    const owner = scoringOwner(asked, PREFILL);
    const out = await explain([
      ...['--policy', 'load_aware', '--body', JSON.stringify(asked)],
      ...['--pod-signals', `${owner}=30,8,0.5`],
    ]);
    const scores = out.prefill.scoring.scores;
    const o = scores.find((x) => x.url === owner);
    expect(o?.load).toBe(1);
    expect(o?.total).toBeCloseTo(-0.7);
    expect(out.prefill.scoring.winner).not.toBe(owner);
    expect(out.prefill.scoring.order).toHaveLength(PREFILL.length);
  });

  test('bad inputs are usage errors that name the flag', async () => {
    const b = ['--body', '{"prompt":"x"}'];
    const cases: [string[], RegExp][] = [
      [['--policy', 'round_robin', ...b], /--policy round_robin cannot be explained: .*next turn/],
      [['--policy', 'random', ...b], /--policy random cannot be explained: .*random draw/],
      [['--policy', 'power_of_two', ...b], /--policy power_of_two cannot be explained/],
      [['--policy', 'sico_sticky', ...b], /--policy must be one of consistent_hash, .*refused-values/],
      [['--policy', 'consistent_hash', '--served', `${PREFILL[0]}={"prompt":"x"}`, ...b], /not consistent_hash/],
      [['--policy', 'rendezvous_hash', '--in-flight', `${PREFILL[0]}=3`, ...b], /not read by --policy/],
      [['--policy', 'bounded_load', '--bounded-load-factor', '0.5', ...b], /--bounded-load-factor must be >= 1/],
      [['--served', `${PREFILL[0]}={"prompt":"x"}`, ...b], /need --policy/],
      [['--policy', 'cache_aware', '--served', 'http://nope:1={"prompt":"x"}', ...b], /not a ring member/],
      [['--policy', 'cache_aware', '--in-flight', `${PREFILL[0]}=lots`, ...b], /whole number/],
      [['--policy', 'cache_aware', '--pod-signals', `${PREFILL[0]}=1`, ...b], /WAITING,RUNNING/],
      [['--policy', 'cache_aware', '--cache-threshold', 'high', ...b], /--cache-threshold must be a number/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['explain', ...pods, ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  test('consistent_hash: the ring owner and the ring walk', async () => {
    const asked = body('Q');
    const out = await explain(['--policy', 'consistent_hash', '--body', JSON.stringify(asked)]);
    expect(out.prefill.scoring.winner).toBe(prefillOwner(asked));
    expect(out.prefill.scoring.reason).toBe('ring_owner');
    expect(out.prefill.scoring.order).toHaveLength(PREFILL.length);
  });

  test("rendezvous_hash: vllm-router's highest fbiHash(key:pod), then by falling score", async () => {
    const asked = { prompt: 'Explain what machine learning is in simple terms.' };
    const out = await explain(['--policy', 'rendezvous_hash', '--body', JSON.stringify(asked)]);
    const key = extractHashKey(() => undefined, asked, { mode: 'vllm-router' });
    const byScore = (urls: string[]) =>
      [...urls].sort((a, b) => compareU64(fbiHash(`${key}:${b}`), fbiHash(`${key}:${a}`)));
    expect(out.prefill.scoring.order).toEqual(byScore(PREFILL));
    expect(out.decode.scoring.order).toEqual(byScore(DECODE));
    expect(out.prefill.scoring.reason).toBe('highest_rendezvous_score');
  });

  test('bounded_load: the owner unless its in-flight count is over the cap, then the next under it', async () => {
    const asked = body('Q');
    const owner = prefillOwner(asked);
    const idle = await explain(['--policy', 'bounded_load', '--body', JSON.stringify(asked)]);
    expect(idle.prefill.scoring.winner).toBe(owner);
    expect(idle.prefill.scoring.reason).toBe('ring_owner');
    // 9 in flight on the owner, 0 elsewhere: cap ceil(1.25 x 10 / 3) = 5, so the owner is skipped.
    const busy = await explain([
      ...['--policy', 'bounded_load', '--body', JSON.stringify(asked), '--in-flight', `${owner}=9`],
    ]);
    expect(busy.prefill.scoring.winner).not.toBe(owner);
    expect(busy.prefill.scoring.winner).toBe(idle.prefill.scoring.order[1]);
    expect(busy.prefill.scoring.reason).toBe('owner_over_cap');
    expect(busy.prefill.scoring.order.at(-1)).not.toBe(busy.prefill.scoring.winner);
    // At --bounded-load-factor 3 the cap is 10: the owner keeps it.
    const loose = await explain([
      ...['--policy', 'bounded_load', '--body', JSON.stringify(asked), '--in-flight', `${owner}=9`],
      ...['--bounded-load-factor', '3'],
    ]);
    expect(loose.prefill.scoring.winner).toBe(owner);
  });

  test('every policy the proxy accepts is explained or refused with a reason; defaults are the proxy’s', () => {
    for (const p of POLICIES) {
      const handled = (EXPLAINED_POLICIES as readonly string[]).includes(p) || Object.hasOwn(UNEXPLAINED_POLICIES, p);
      expect(handled, p).toBe(true);
    }
    const factor = PROXY_FLAGS.find((f) => f.name === 'bounded-load-factor');
    expect(factor && 'default' in factor ? factor.default : undefined).toBe(DEFAULT_BOUNDED_LOAD_FACTOR);
  });
});
