import { parseSimRequest } from '@pdrouter/vllm-sim';
import { describe, expect, it } from 'vitest';
import { agreementProbes, chosenPods } from '../src/fleet/agreement.ts';
import { idealPrefixHits, SIM_BLOCK_SIZE } from '../src/fleet/ideal.ts';
import { fleetWorkloads, loadgenArgs, multiTurnChat, rebuildRequests, type Workload } from '../src/fleet/workloads.ts';
import { parseLoadgenArgs } from '../src/loadgen/config.ts';
import { countWordTokens, sampleRandomDataset } from '../src/loadgen/dataset.ts';

const byName = (name: string): Workload => fleetWorkloads(true).find((w) => w.name === name) as Workload;

describe('fleet workloads', () => {
  it('give the load generator exactly the shape the offline rebuild uses (they cannot drift apart)', () => {
    for (const w of [...fleetWorkloads(false), ...fleetWorkloads(true)]) {
      const c = parseLoadgenArgs(loadgenArgs(w));
      const s = w.shape;
      expect(c.seed).toBe(1);
      if (s.kind === 'multi-turn') {
        expect(c.datasetName).toBe('multi-turn');
        expect(c.multiTurn).toEqual({
          systemPrompts: s.systemPrompts,
          systemPromptLen: s.systemPromptLen,
          sessions: s.sessions,
          turns: s.turns,
          userLen: s.userLen,
        });
        expect(c.randomOutputLen).toBe(s.outputLen);
        expect(c.maxConcurrency).toBe(s.concurrentSessions);
      } else {
        expect(c.datasetName).toBe('random');
        expect([c.numPrompts, c.randomInputLen, c.randomOutputLen, c.randomPrefixLen]).toEqual([
          s.numPrompts,
          s.inputLen,
          s.outputLen,
          s.prefixLen,
        ]);
        expect(c.randomRangeRatio).toBe(0);
        expect(c.requestRate).toBe(s.requestRate ?? Number.POSITIVE_INFINITY);
        expect(c.burstiness).toBe(s.burstiness ?? 1);
      }
    }
  });

  it('rebuild deterministically, every session turn by turn with the answer carried into the next turn', () => {
    const w = byName('multi-turn');
    const s = w.shape;
    if (s.kind !== 'multi-turn') throw new Error('multi-turn shape expected');
    const a = rebuildRequests(w);
    expect(rebuildRequests(w)).toEqual(a);
    expect(a).toHaveLength(s.sessions * s.turns);
    const [t0, t1] = [a[0], a[1]];
    expect([t0?.session, t0?.turn, t1?.session, t1?.turn]).toEqual([0, 0, 0, 1]);
    const m0 = t0?.messages ?? [];
    const m1 = t1?.messages ?? [];
    expect(m1.slice(0, m0.length)).toEqual(m0);
    expect(m1[m0.length]?.role).toBe('assistant');
    expect(countWordTokens(m1[m0.length]?.content ?? '')).toBe(s.outputLen);
    // Tokens as the pods count them: a role word per message, then the words of its content.
    expect(t1?.tokens).toEqual(parseSimRequest('/v1/chat/completions', { messages: m1 }).promptWords);
    expect(t0?.tokens).toHaveLength(s.systemPromptLen + s.userLen + 2);
  });

  it("a session's next turn ideally hits the whole blocks of its previous prompt (answers are not cached)", () => {
    const one: Workload = {
      ...multiTurnChat(true),
      shape: {
        ...(multiTurnChat(true).shape as Workload['shape'] & { kind: 'multi-turn' }),
        systemPrompts: 1,
        sessions: 1,
        turns: 2,
      },
    };
    const [t0, t1] = rebuildRequests(one);
    const ideal = idealPrefixHits([t0?.tokens ?? [], t1?.tokens ?? []]);
    expect(ideal.hitTokens).toBe(Math.floor((t0?.tokens.length ?? 0) / SIM_BLOCK_SIZE) * SIM_BLOCK_SIZE);
  });

  it('rebuild the random dataset prompt for prompt, and the shared prefix is all the bursty workload can reuse', () => {
    const w = byName('bursty');
    const s = w.shape;
    if (s.kind !== 'random') throw new Error('random shape expected');
    const rebuilt = rebuildRequests(w);
    const sampled = sampleRandomDataset({
      numPrompts: s.numPrompts,
      inputLen: s.inputLen,
      outputLen: s.outputLen,
      rangeRatio: 0,
      prefixLen: s.prefixLen,
      seed: 1,
      requestIdPrefix: '',
    });
    expect(rebuilt.map((r) => r.prompt)).toEqual(sampled.map((r) => r.prompt));
    const ideal = idealPrefixHits(rebuilt.map((r) => r.tokens));
    // 512 shared tokens = 32 whole blocks; the rest of each prompt starts at its own vocabulary word.
    expect(ideal.hitTokens).toBe((s.numPrompts - 1) * s.prefixLen);
    expect(ideal.queryTokens).toBe(s.numPrompts * (s.prefixLen + s.inputLen));
  });

  it('spread the agreement probes over the workload and replay its requests for one token', () => {
    const requests = rebuildRequests(byName('one-system-prompt'));
    const probes = agreementProbes(requests, 4, 'p');
    expect(probes.map((p) => p.id)).toEqual(['p-0', 'p-1', 'p-2', 'p-3']);
    expect(probes[2]?.body.messages).toEqual(requests[requests.length / 2]?.messages);
    expect(probes[0]?.body.max_completion_tokens).toBe(1);
    const random = agreementProbes(rebuildRequests(byName('random')), 2, 'r');
    expect(random[0]?.path).toBe('/v1/completions');
    expect(typeof random[0]?.body.prompt).toBe('string');
  });
});

describe('chosenPods (the access log of a replica)', () => {
  const line = (id: string, prefill: string, decode: string) =>
    JSON.stringify({ time: 't', level: 'debug', msg: 'request', requestId: id, prefill, decode, status: 200 });

  it("finds the client's id with the proxy's suffix, not a longer id that starts the same", () => {
    const lines = [
      '{"level":"info","msg":"listening"}',
      line('p-1-abc', 'http://p0', 'http://d0'),
      line('p-10-def', 'http://p1', 'http://d1'),
    ];
    expect(chosenPods(lines, 'p-1')).toEqual({ prefill: 'http://p0', decode: 'http://d0' });
    expect(chosenPods(lines, 'p-10')).toEqual({ prefill: 'http://p1', decode: 'http://d1' });
    expect(chosenPods(lines, 'p-2')).toBeUndefined();
  });
});
