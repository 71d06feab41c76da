import type { Clock, TimerHandle } from './clock.ts';
import type { Faults, TimingOptions } from './options.ts';
import { PrefixCache } from './prefix-cache.ts';

export type FinishReason = 'stop' | 'length';

/** How far behind the simulated timeline a busy pod may fall before it stops catching up, in ms. */
export const MAX_STEP_LAG_MS = 50;

/** What the engine needs to know about a request; the HTTP layer builds it. */
export interface EngineRequest {
  readonly id: string;
  /** Clock time the request arrived (TTFT is measured from here). */
  readonly arrivalMs: number;
  readonly promptTokens: number;
  /** Chained hashes of the prompt's full blocks (prefix cache keys). */
  readonly blockHashes: readonly number[];
  /** Output tokens after which the sequence finishes, and why. */
  readonly finishAt: number;
  readonly finishReason: FinishReason;
  /** The prompt's KV comes from a prefill pod: pay a transfer instead of computing the prefill. */
  readonly remoteKv: boolean;
}

/**
 * Receives the tokens of one sequence. Returns false when the consumer cannot take more now
 * (backpressure, or an injected stall): the sequence then sits out of the batch until resume().
 */
export type TokenSink = (seq: Sequence, index: number, finish: FinishReason | null) => boolean;

export type SequenceState = 'delayed' | 'waiting' | 'running' | 'finished' | 'cancelled';

export class Sequence {
  readonly request: EngineRequest;
  readonly sink: TokenSink;
  state: SequenceState = 'delayed';
  /** Earliest clock time the scheduler may admit it (overhead and KV transfer are paid before). */
  readyAt = 0;
  /** Prompt tokens found in this pod's prefix cache. */
  cachedTokens = 0;
  prefillRemaining = 0;
  generated = 0;
  blocked = false;
  firstTokenMs = -1;
  blocks = 0;
  /** Prompt tokens scheduled in the current step (0 = a decode token). */
  chunk = 0;

  constructor(request: EngineRequest, sink: TokenSink) {
    this.request = request;
    this.sink = sink;
  }
}

export interface EngineCounters {
  promptTokens: number;
  generationTokens: number;
  /** Prompt tokens looked up in the prefix cache, and those found (vLLM counts tokens, not requests). */
  prefixCacheQueries: number;
  prefixCacheHits: number;
  steps: number;
  latencySpikes: number;
}

export interface EngineOptions {
  readonly timing: Readonly<TimingOptions>;
  readonly clock: Clock;
  /** Seeded random source for latency spikes. */
  readonly random: () => number;
  readonly faults: () => Readonly<Faults>;
}

/**
 * One pod's scheduler: continuous batching with a single timer per step. Each step every running,
 * unblocked sequence gets one token (or a chunk of its prefill); the step takes
 * (stepBase + stepPerSeq * batch + prefillPerToken * prefillTokens) / speed (+ a spike), so the step time, and so
 * TPOT, grows with the batch. Beyond maxNumSeqs (or the KV blocks) requests wait in a FIFO queue.
 */
export class Engine {
  readonly counters: EngineCounters = {
    promptTokens: 0,
    generationTokens: 0,
    prefixCacheQueries: 0,
    prefixCacheHits: 0,
    steps: 0,
    latencySpikes: 0,
  };
  readonly prefixCache: PrefixCache;
  private readonly options: EngineOptions;
  private readonly timing: Readonly<TimingOptions>;
  private delayed: Sequence[] = [];
  private waiting: Sequence[] = [];
  private running: Sequence[] = [];
  private batch: Sequence[] = [];
  private stepTimer: TimerHandle | undefined;
  private wakeTimer: TimerHandle | undefined;
  private wakeAt = Number.POSITIVE_INFINITY;
  /** True while finishStep() hands out tokens: sinks may cancel or resume, but not start a step. */
  private stepping = false;
  /** Simulated end of the last finished step, and whether the next step follows it back to back. */
  private lastStepEnd = 0;
  private backToBack = false;
  private usedBlocks = 0;
  /** Blocks held outside running sequences (a prefill pod's KV waiting for its decode pod). */
  private heldBlocks = 0;

  constructor(options: EngineOptions) {
    this.options = options;
    this.timing = options.timing;
    this.prefixCache = new PrefixCache(options.timing.numGpuBlocks);
  }

  get numRunning(): number {
    return this.running.length;
  }

  get numWaiting(): number {
    return this.waiting.length + this.delayed.length;
  }

  /** Fraction (0..1) of KV blocks in use by running sequences and held transfers. */
  get kvCacheUsage(): number {
    const total = this.timing.numGpuBlocks;
    return total <= 0 ? 0 : Math.min(1, (this.usedBlocks + this.heldBlocks) / total);
  }

  /** Adds (or with a negative count releases) blocks held for a KV transfer. */
  holdBlocks(count: number): void {
    this.heldBlocks = Math.max(0, this.heldBlocks + count);
  }

  /** Transfer time of `tokens` prompt tokens from a prefill pod, in ms. */
  transferMs(tokens: number): number {
    if (this.timing.zeroDelay) return 0;
    return this.timing.kvTransferBaseMs + this.timing.kvTransferPerTokenMs * tokens;
  }

  submit(request: EngineRequest, sink: TokenSink, extraDelayMs = 0): Sequence {
    const seq = new Sequence(request, sink);
    const bs = this.timing.blockSize;
    // Like vLLM, the last prompt token is always computed, so at most (n - 1) tokens come from cache.
    const cacheableBlocks = Math.min(request.blockHashes.length, Math.floor((request.promptTokens - 1) / bs));
    const hitBlocks =
      cacheableBlocks > 0 ? this.prefixCache.matchPrefix(request.blockHashes.slice(0, cacheableBlocks)) : 0;
    seq.cachedTokens = hitBlocks * bs;
    this.counters.prefixCacheQueries += request.promptTokens;
    this.counters.prefixCacheHits += seq.cachedTokens;
    this.counters.promptTokens += request.promptTokens;
    let delay = this.timing.zeroDelay ? 0 : this.timing.requestOverheadMs + extraDelayMs;
    if (request.remoteKv) {
      // Only the blocks missing locally cross the wire; the decode step then produces the first token.
      delay += this.transferMs(request.promptTokens - seq.cachedTokens);
      seq.prefillRemaining = 0;
    } else {
      seq.prefillRemaining = Math.max(1, request.promptTokens - seq.cachedTokens);
    }
    seq.readyAt = this.options.clock.now() + delay;
    this.delayed.push(seq);
    this.schedule();
    return seq;
  }

  /** The client went away: drop the sequence wherever it is and free its blocks. */
  cancel(seq: Sequence): void {
    if (seq.state === 'finished' || seq.state === 'cancelled') return;
    if (seq.state === 'running') {
      this.running = this.running.filter((s) => s !== seq);
      this.usedBlocks -= seq.blocks;
    } else if (seq.state === 'waiting') {
      this.waiting = this.waiting.filter((s) => s !== seq);
    } else {
      this.delayed = this.delayed.filter((s) => s !== seq);
    }
    seq.state = 'cancelled';
    this.schedule();
  }

  /** A blocked sequence may take tokens again. */
  resume(seq: Sequence): void {
    if (!seq.blocked) return;
    seq.blocked = false;
    this.schedule();
  }

  /** Cancels every sequence and timer (pod stopped). Sinks are not called. */
  reset(): void {
    for (const seq of [...this.delayed, ...this.waiting, ...this.running]) seq.state = 'cancelled';
    this.delayed = [];
    this.waiting = [];
    this.running = [];
    this.batch = [];
    this.stepTimer?.cancel();
    this.stepTimer = undefined;
    this.clearWake();
    this.usedBlocks = 0;
    this.heldBlocks = 0;
    this.prefixCache.clear();
  }

  private clearWake(): void {
    this.wakeTimer?.cancel();
    this.wakeTimer = undefined;
    this.wakeAt = Number.POSITIVE_INFINITY;
  }

  /** Starts a step if there is runnable work and none is in flight; otherwise arms one wake-up timer. */
  private schedule(): void {
    if (this.stepTimer !== undefined || this.stepping) return;
    const now = this.options.clock.now();
    this.admit(now);
    if (this.startStep()) {
      this.clearWake();
      return;
    }
    let earliest = Number.POSITIVE_INFINITY;
    for (const s of this.delayed) if (s.readyAt < earliest) earliest = s.readyAt;
    if (earliest === Number.POSITIVE_INFINITY) {
      this.clearWake();
      return;
    }
    if (this.wakeTimer !== undefined && this.wakeAt <= earliest) return;
    this.clearWake();
    this.wakeAt = earliest;
    this.wakeTimer = this.options.clock.schedule(earliest - now, () => {
      this.wakeTimer = undefined;
      this.wakeAt = Number.POSITIVE_INFINITY;
      this.schedule();
    });
  }

  private admit(now: number): void {
    if (this.delayed.length > 0) {
      const ready: Sequence[] = [];
      const later: Sequence[] = [];
      for (const s of this.delayed) (s.readyAt <= now ? ready : later).push(s);
      if (ready.length > 0) {
        ready.sort((a, b) => a.readyAt - b.readyAt);
        for (const s of ready) s.state = 'waiting';
        this.waiting.push(...ready);
        this.delayed = later;
      }
    }
    const bs = this.timing.blockSize;
    while (this.waiting.length > 0 && this.running.length < this.timing.maxNumSeqs) {
      const next = this.waiting[0] as Sequence;
      const need = Math.ceil((next.request.promptTokens + 1) / bs);
      const free = this.timing.numGpuBlocks - this.usedBlocks - this.heldBlocks;
      // Never starve an idle pod: a request larger than the free space still runs alone.
      if (need > free && this.running.length > 0) break;
      this.waiting.shift();
      next.state = 'running';
      next.blocks = need;
      this.usedBlocks += need;
      if (next.request.remoteKv) this.prefixCache.insert(next.request.blockHashes);
      this.running.push(next);
    }
  }

  private startStep(): boolean {
    let budget = this.timing.maxNumBatchedTokens;
    let prefillTokens = 0;
    const batch: Sequence[] = [];
    for (const seq of this.running) {
      if (seq.blocked || budget <= 0) continue;
      if (seq.prefillRemaining > 0) {
        const chunk = Math.min(seq.prefillRemaining, budget);
        seq.chunk = chunk;
        budget -= chunk;
        prefillTokens += chunk;
      } else {
        seq.chunk = 0;
        budget -= 1;
      }
      batch.push(seq);
    }
    if (batch.length === 0) return false;
    const t = this.timing;
    let duration = 0;
    if (!t.zeroDelay) {
      duration = (t.stepBaseMs + t.stepPerSeqMs * batch.length + t.prefillPerTokenMs * prefillTokens) / t.speed;
      const faults = this.options.faults();
      if (faults.latencySpikeRate > 0 && this.options.random() < faults.latencySpikeRate) {
        duration += faults.latencySpikeMs;
        this.counters.latencySpikes++;
      }
    }
    this.batch = batch;
    // Back-to-back steps are laid out on the simulated timeline, not from when the last timer
    // actually fired: real timers fire late by up to a millisecond, which would otherwise add up
    // to a slower TPOT than the model says. A pod stalled longer than MAX_STEP_LAG_MS starts afresh.
    const now = this.options.clock.now();
    const start = this.backToBack && now - this.lastStepEnd <= MAX_STEP_LAG_MS ? this.lastStepEnd : now;
    this.backToBack = false;
    this.lastStepEnd = start + duration;
    this.stepTimer = this.options.clock.schedule(this.lastStepEnd - now, () => this.finishStep());
    return true;
  }

  private finishStep(): void {
    this.stepTimer = undefined;
    this.backToBack = true;
    this.counters.steps++;
    const batch = this.batch;
    this.batch = [];
    let finishedAny = false;
    const bs = this.timing.blockSize;
    this.stepping = true;
    for (const seq of batch) {
      if (seq.state !== 'running') continue;
      if (seq.chunk > 0) {
        seq.prefillRemaining -= seq.chunk;
        seq.chunk = 0;
        if (seq.prefillRemaining > 0) continue;
        this.prefixCache.insert(seq.request.blockHashes);
      }
      const index = seq.generated++;
      this.counters.generationTokens++;
      if (index === 0) seq.firstTokenMs = this.options.clock.now();
      const blocks = Math.ceil((seq.request.promptTokens + seq.generated) / bs);
      if (blocks > seq.blocks) {
        this.usedBlocks += blocks - seq.blocks;
        seq.blocks = blocks;
      }
      const done = seq.generated >= seq.request.finishAt;
      if (done) {
        seq.state = 'finished';
        this.usedBlocks -= seq.blocks;
        finishedAny = true;
      }
      let accepted = true;
      try {
        accepted = seq.sink(seq, index, done ? seq.request.finishReason : null);
      } catch {
        // A failing consumer loses its sequence, never the engine's step loop.
        accepted = true;
        this.cancel(seq);
      }
      if (!accepted && !done && seq.state === 'running') seq.blocked = true;
    }
    this.stepping = false;
    if (finishedAny) this.running = this.running.filter((s) => s.state === 'running');
    this.schedule();
    this.backToBack = false;
  }
}
