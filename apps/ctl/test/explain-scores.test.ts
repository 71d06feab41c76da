// pdrouterctl explain --policy: the scores of every pod and why one won, from the command line's inputs
// (served bodies, in-flight counts, pod gauges), through the real CLI process.
import { ConsistentHashRing, extractHashKey, fbiHash } from '@pdrouter/core';
import { describe, expect, test } from 'vitest';
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

describe('pdrouterctl explain --policy', () => {
  test('cache_aware: a served prefix wins above the threshold, with the scores and the reason', async () => {
    const asked = body('What does section 4 say?');
    const served = PREFILL.find((u) => u !== prefillOwner(asked)) as string;
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
    // Nothing was served on decode: its ring owner.
    expect(out.decode.scoring.reason).toBe('ring_owner');
    expect(out.decode.scoring.winner).toBe(out.decode.owner);
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
    const owner = prefillOwner(asked);
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
      [['--policy', 'round_robin', ...b], /--policy must be cache_aware or load_aware/],
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
});
