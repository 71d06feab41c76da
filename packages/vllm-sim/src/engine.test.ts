import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.ts';
import { Engine, type EngineRequest, type FinishReason, type Sequence } from './engine.ts';
import { createRandom } from './hash.ts';
import { DEFAULT_TIMING, type Faults, NO_FAULTS, type TimingOptions } from './options.ts';
import { computeBlockHashes } from './prefix-cache.ts';

interface Emitted {
  at: number;
  index: number;
  finish: FinishReason | null;
}

function setup(timing: Partial<TimingOptions> = {}, faults: Partial<Faults> = {}, seed = 1) {
  const clock = new FakeClock();
  const engine = new Engine({
    timing: { ...DEFAULT_TIMING, ...timing },
    clock,
    random: createRandom(seed),
    faults: () => ({ ...NO_FAULTS, ...faults }),
  });
  const submit = (over: Partial<EngineRequest> & { tokens?: number; words?: string[] } = {}, accept = () => true) => {
    const words = over.words ?? Array.from({ length: over.tokens ?? 100 }, (_, i) => `w${i}`);
    const emitted: Emitted[] = [];
    const seq = engine.submit(
      {
        id: 'r',
        arrivalMs: clock.now(),
        promptTokens: words.length,
        blockHashes: computeBlockHashes(words, DEFAULT_TIMING.blockSize),
        finishAt: 10,
        finishReason: 'length',
        remoteKv: false,
        ...over,
      },
      (_s: Sequence, index, finish) => {
        emitted.push({ at: clock.now(), index, finish });
        return accept();
      },
    );
    return { seq, emitted };
  };
  return { clock, engine, submit };
}

const T = DEFAULT_TIMING;
const close = (a: number, b: number) => expect(a).toBeCloseTo(b, 9);

describe('Engine timing model (fake clock)', () => {
  it('gives TTFT = overhead + one step with the uncached prefill, then one token per step', () => {
    const { clock, submit } = setup();
    const { emitted } = submit({ tokens: 100, finishAt: 4 });
    clock.advance(1_000);
    expect(emitted.map((e) => e.index)).toEqual([0, 1, 2, 3]);
    expect(emitted.map((e) => e.finish)).toEqual([null, null, null, 'length']);
    const ttft = T.requestOverheadMs + T.stepBaseMs + T.stepPerSeqMs + T.prefillPerTokenMs * 100;
    close(emitted[0]?.at as number, ttft);
    for (let i = 1; i < 4; i++)
      close((emitted[i]?.at as number) - (emitted[i - 1]?.at as number), T.stepBaseMs + T.stepPerSeqMs);
  });

  it('is calibrated to the seed: ~6 ms per token at 4 sequences, ~7 ms at 16', () => {
    for (const [n, expected] of [
      [4, 6],
      [16, 7],
    ] as const) {
      const { clock, submit } = setup();
      const runs = Array.from({ length: n }, (_, i) => submit({ id: `r${i}`, words: [`x${i}`, 'y'], finishAt: 20 }));
      clock.advance(10_000);
      const e = runs[0]?.emitted as Emitted[];
      // All sequences joined the same first step, so every later step holds exactly n sequences.
      const tpot = ((e[19]?.at as number) - (e[1]?.at as number)) / 18;
      close(tpot, expected);
    }
  });

  it('divides every step by the speed factor: a pod at 0.5 takes twice as long per token, overhead unchanged', () => {
    const { clock, submit } = setup({ speed: 0.5 });
    const { emitted } = submit({ tokens: 100, finishAt: 3 });
    clock.advance(1_000);
    expect(emitted.map((e) => e.index)).toEqual([0, 1, 2]);
    const step = T.stepBaseMs + T.stepPerSeqMs;
    close(emitted[0]?.at as number, T.requestOverheadMs + 2 * (step + T.prefillPerTokenMs * 100));
    close((emitted[2]?.at as number) - (emitted[1]?.at as number), 2 * step);
  });

  it('reuses cached prefix blocks: the second identical prompt skips their prefill', () => {
    const { clock, engine, submit } = setup();
    const words = Array.from({ length: 100 }, (_, i) => `t${i}`);
    const first = submit({ words, finishAt: 1 });
    clock.advance(1_000);
    const start = clock.now();
    const second = submit({ words, finishAt: 1 });
    clock.advance(1_000);
    // 100 tokens = 6 full blocks (96 tokens) cached; the last 4 are computed.
    expect(second.seq.cachedTokens).toBe(96);
    close(
      (second.emitted[0]?.at as number) - start,
      T.requestOverheadMs + T.stepBaseMs + T.stepPerSeqMs + T.prefillPerTokenMs * 4,
    );
    expect(first.seq.cachedTokens).toBe(0);
    expect(engine.counters.prefixCacheQueries).toBe(200);
    expect(engine.counters.prefixCacheHits).toBe(96);
  });

  it('never serves the whole prompt from cache (the last token is always computed)', () => {
    const { clock, submit } = setup();
    const words = Array.from({ length: 32 }, (_, i) => `e${i}`);
    submit({ words, finishAt: 1 });
    clock.advance(1_000);
    expect(submit({ words, finishAt: 1 }).seq.cachedTokens).toBe(16);
  });

  it('evicts least recently used blocks beyond numGpuBlocks', () => {
    const { clock, submit } = setup({ numGpuBlocks: 4 });
    const a = Array.from({ length: 33 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 33 }, (_, i) => `b${i}`);
    const c = Array.from({ length: 33 }, (_, i) => `c${i}`);
    for (const words of [a, b, c]) {
      submit({ words, finishAt: 1 });
      clock.advance(1_000);
    }
    expect(submit({ words: a, finishAt: 1 }).seq.cachedTokens).toBe(0);
    clock.advance(1_000);
    expect(submit({ words: c, finishAt: 1 }).seq.cachedTokens).toBe(32);
  });

  it('queues beyond maxNumSeqs and admits when a sequence finishes', () => {
    const { clock, engine, submit } = setup({ maxNumSeqs: 2 });
    const a = submit({ id: 'a', finishAt: 2 });
    const b = submit({ id: 'b', finishAt: 5 });
    const c = submit({ id: 'c', finishAt: 2 });
    clock.advance(T.requestOverheadMs + 0.001);
    expect(engine.numRunning).toBe(2);
    expect(engine.numWaiting).toBe(1);
    clock.advance(1_000);
    expect(c.emitted[0]?.at).toBeGreaterThan(a.emitted[1]?.at as number);
    expect(b.emitted).toHaveLength(5);
    expect(c.emitted).toHaveLength(2);
    expect(engine.numRunning + engine.numWaiting).toBe(0);
  });

  it('chunks a prefill longer than maxNumBatchedTokens over several steps', () => {
    const { clock, submit } = setup({ maxNumBatchedTokens: 64 });
    const { emitted } = submit({ tokens: 150, finishAt: 1 });
    clock.advance(1_000);
    const steps = 3; // 64 + 64 + 22
    close(
      emitted[0]?.at as number,
      T.requestOverheadMs + steps * (T.stepBaseMs + T.stepPerSeqMs) + 150 * T.prefillPerTokenMs,
    );
  });

  it('pays a KV transfer instead of a prefill for remote KV', () => {
    const { clock, submit } = setup();
    const { emitted } = submit({ tokens: 1000, finishAt: 2, remoteKv: true });
    clock.advance(1_000);
    const transfer = T.kvTransferBaseMs + T.kvTransferPerTokenMs * 1000;
    close(emitted[0]?.at as number, T.requestOverheadMs + transfer + T.stepBaseMs + T.stepPerSeqMs);
  });

  it('transfers only the blocks a decode pod does not already cache', () => {
    const { clock, submit } = setup();
    const words = Array.from({ length: 1000 }, (_, i) => `k${i}`);
    submit({ words, finishAt: 1, remoteKv: true });
    clock.advance(1_000);
    const start = clock.now();
    const again = submit({ words, finishAt: 1, remoteKv: true });
    clock.advance(1_000);
    // 62 of 63 full blocks (992 tokens) are cached locally; 8 tokens cross the wire.
    expect(again.seq.cachedTokens).toBe(992);
    const transfer = T.kvTransferBaseMs + T.kvTransferPerTokenMs * 8;
    close((again.emitted[0]?.at as number) - start, T.requestOverheadMs + transfer + T.stepBaseMs + T.stepPerSeqMs);
  });

  it('takes a blocked sequence out of the batch until resume()', () => {
    const { clock, engine, submit } = setup();
    let open = true;
    const blocked = submit({ id: 'slow', finishAt: 5 }, () => open);
    const other = submit({ id: 'fast', finishAt: 5 });
    open = false;
    clock.advance(T.requestOverheadMs + 200);
    expect(blocked.emitted).toHaveLength(1);
    expect(other.emitted).toHaveLength(5);
    open = true;
    engine.resume(blocked.seq);
    clock.advance(1_000);
    expect(blocked.emitted).toHaveLength(5);
  });

  it('frees a cancelled sequence and never calls its sink again', () => {
    const { clock, engine, submit } = setup();
    const { seq, emitted } = submit({ finishAt: 100 });
    clock.advance(50);
    const seen = emitted.length;
    engine.cancel(seq);
    clock.advance(1_000);
    expect(emitted).toHaveLength(seen);
    expect(engine.numRunning).toBe(0);
    expect(engine.kvCacheUsage).toBe(0);
  });

  it('adds latency spikes deterministically under a seed', () => {
    const run = (seed: number) => {
      const { clock, engine, submit } = setup({}, { latencySpikeRate: 0.3, latencySpikeMs: 100 }, seed);
      const { emitted } = submit({ finishAt: 30 });
      clock.advance(100_000);
      return { times: emitted.map((e) => e.at), spikes: engine.counters.latencySpikes };
    };
    const a = run(7);
    expect(a.spikes).toBeGreaterThan(0);
    expect(run(7)).toEqual(a);
    expect(run(8).times).not.toEqual(a.times);
  });

  it('spends no simulated time at all in zero-delay mode', () => {
    const { clock, submit } = setup({ zeroDelay: true });
    const { emitted } = submit({ tokens: 500, finishAt: 50 });
    clock.advance(0);
    expect(emitted).toHaveLength(50);
    expect(emitted.every((e) => e.at === 0)).toBe(true);
  });

  it('keeps back-to-back steps on the simulated timeline when timers fire late', () => {
    const fake = new FakeClock();
    // Every timer fires 0.7 ms late, like real timers on a busy machine.
    const late = { now: () => fake.now(), schedule: (ms: number, fn: () => void) => fake.schedule(ms + 0.7, fn) };
    const engine = new Engine({ timing: DEFAULT_TIMING, clock: late, random: () => 0, faults: () => NO_FAULTS });
    const at: number[] = [];
    engine.submit(
      {
        id: 'x',
        arrivalMs: 0,
        promptTokens: 2,
        blockHashes: [],
        finishAt: 101,
        finishReason: 'length',
        remoteKv: false,
      },
      () => {
        at.push(fake.now());
        return true;
      },
    );
    fake.advance(10_000);
    expect(at).toHaveLength(101);
    // Lateness does not accumulate: 100 steps still take 100 model steps (plus one late firing).
    expect((at[100] as number) - (at[0] as number)).toBeCloseTo(100 * (T.stepBaseMs + T.stepPerSeqMs), 6);
  });

  it('reports KV usage of running sequences and held transfers', () => {
    const { clock, engine, submit } = setup({ numGpuBlocks: 100 });
    submit({ tokens: 159, finishAt: 50 });
    clock.advance(T.requestOverheadMs + 0.001);
    expect(engine.kvCacheUsage).toBeCloseTo(0.1, 9); // ceil(160 / 16) blocks
    engine.holdBlocks(20);
    expect(engine.kvCacheUsage).toBeCloseTo(0.3, 9);
    engine.holdBlocks(-20);
    clock.advance(10_000);
    expect(engine.kvCacheUsage).toBe(0);
  });
});
