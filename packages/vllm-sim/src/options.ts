/**
 * Tunable settings of a simulated pod: the timing model (calibrated to the seed deployment), output
 * lengths and the fault switches. Every value has a unit in its name; defaults are frozen.
 */

/** Timing model of one pod. See README.md "Timing model" for the calibration. */
export interface TimingOptions {
  /** Fixed cost before a request reaches the scheduler (HTTP parsing, tokenization), in ms. */
  requestOverheadMs: number;
  /** Fixed cost of one engine step (one forward pass), in ms. */
  stepBaseMs: number;
  /** Added step cost per sequence in the batch, in ms (step time grows with the batch). */
  stepPerSeqMs: number;
  /** Added step cost per prompt token computed in the step (prefill), in ms. */
  prefillPerTokenMs: number;
  /** Most sequences running at once (vLLM --max-num-seqs); the rest wait in a queue. */
  maxNumSeqs: number;
  /** Most tokens one step computes (vLLM --max-num-batched-tokens): long prefills are chunked. */
  maxNumBatchedTokens: number;
  /** Tokens per KV block; prefix-cache hashes cover whole blocks only. */
  blockSize: number;
  /** KV blocks of the pod: the capacity of the prefix cache and of running sequences. */
  numGpuBlocks: number;
  /** Fixed cost of pulling KV blocks from a prefill pod, in ms. */
  kvTransferBaseMs: number;
  /** Added cost per transferred token, in ms. */
  kvTransferPerTokenMs: number;
  /** How long a prefill pod keeps finished KV blocks for a decode pod to fetch, in ms. */
  kvTtlMs: number;
  /**
   * Speed of the pod's accelerator relative to the model above: each engine step takes its modelled time
   * divided by this factor (0.5 = a pod twice as slow per step, 2 = twice as fast). Request overhead and
   * KV transfers are not scaled (they are CPU and network, not the GPU).
   */
  speed: number;
  /** Zero-delay mode: every duration above is 0; tokens go out as fast as the sockets take them. */
  zeroDelay: boolean;
}

/*
 * Calibration (seed: Llama 3.1 8B, 8P+8D, 1000 in / 1000 out): TPOT ~5.95 ms at 4 sequences per decode
 * pod and ~7.1 ms at 16. A linear step time base + perSeq * n through those two points gives
 * perSeq = 1/12 ms and base = 6 - 4/12 ms.
 */
export const DEFAULT_TIMING: Readonly<TimingOptions> = Object.freeze({
  requestOverheadMs: 1,
  stepBaseMs: 6 - 4 / 12,
  stepPerSeqMs: 1 / 12,
  prefillPerTokenMs: 0.04,
  maxNumSeqs: 256,
  maxNumBatchedTokens: 8192,
  blockSize: 16,
  numGpuBlocks: 16384,
  kvTransferBaseMs: 2,
  kvTransferPerTokenMs: 0.005,
  kvTtlMs: 480_000,
  speed: 1,
  zeroDelay: false,
});

/** Throws a RangeError unless a pod's speed factor is a finite number > 0. */
export function assertSpeed(pod: string, speed: number): void {
  if (!(Number.isFinite(speed) && speed > 0))
    throw new RangeError(`pod ${pod}: speed must be a finite number > 0, got ${speed}`);
}

/** Injected failures, switchable at runtime (SimPod.setFaults, the control server) and by flags. */
export interface Faults {
  /** Fraction (0..1) of inference requests answered with a 429. */
  errorRate429: number;
  /** Fraction (0..1) answered with a 500. */
  errorRate500: number;
  /** Fraction (0..1) answered with a 503. */
  errorRate503: number;
  /** Hold each inference request this long before sending headers, in ms (0 = off, <0 = until the client leaves). */
  stallBeforeHeadersMs: number;
  /** After this many output tokens, stop sending (the stream hangs); -1 = off. */
  stallAfterTokens: number;
  /** How long a mid-stream stall lasts before the stream goes on, in ms (0 = until the client leaves). */
  stallMs: number;
  /** After this many output tokens, destroy the connection without finishing the response; -1 = off. */
  dropAfterTokens: number;
  /** Slow start: when set, the pod is not ready (503 on /health and inference) for this many ms. */
  notReadyMs: number;
  /** Probability (0..1) that an engine step is slowed by a latency spike. */
  latencySpikeRate: number;
  /** Extra duration of a spiked step, in ms. */
  latencySpikeMs: number;
}

export const NO_FAULTS: Readonly<Faults> = Object.freeze({
  errorRate429: 0,
  errorRate500: 0,
  errorRate503: 0,
  stallBeforeHeadersMs: 0,
  stallAfterTokens: -1,
  stallMs: 0,
  dropAfterTokens: -1,
  notReadyMs: 0,
  latencySpikeRate: 0,
  latencySpikeMs: 0,
});

/** Output length settings: how long an answer is when the request does not force max tokens. */
export interface GenerationOptions {
  /** Served model name (`model` in requests and responses). */
  model: string;
  /** Longest prompt + output a request may have (vLLM --max-model-len). */
  maxModelLen: number;
  /** Shortest "natural" answer (tokens) before an end-of-sequence, when ignore_eos is false. */
  eosMinTokens: number;
  /** Longest "natural" answer (tokens) before an end-of-sequence, when ignore_eos is false. */
  eosMaxTokens: number;
  /** Report cached prompt tokens in usage.prompt_tokens_details (vLLM --enable-prompt-tokens-details). */
  promptTokensDetails: boolean;
}

export const DEFAULT_GENERATION: Readonly<GenerationOptions> = Object.freeze({
  model: 'meta-llama/Llama-3.1-8B-Instruct',
  maxModelLen: 32768,
  eosMinTokens: 16,
  eosMaxTokens: 512,
  promptTokensDetails: false,
});

/** Checks fault values; returns a message naming the first bad field, or undefined. */
export function validateFaults(input: unknown): { ok: true; faults: Partial<Faults> } | { ok: false; error: string } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, error: 'faults must be a JSON object' };
  }
  const out: Partial<Faults> = {};
  for (const [key, value] of Object.entries(input)) {
    if (!(key in NO_FAULTS))
      return { ok: false, error: `unknown fault '${key}' (known: ${Object.keys(NO_FAULTS).join(', ')})` };
    if (typeof value !== 'number' || !Number.isFinite(value))
      return { ok: false, error: `fault '${key}' must be a finite number` };
    if (key.startsWith('errorRate') || key === 'latencySpikeRate') {
      if (value < 0 || value > 1) return { ok: false, error: `fault '${key}' must be between 0 and 1` };
    }
    if ((key === 'stallMs' || key === 'notReadyMs' || key === 'latencySpikeMs') && value < 0) {
      return { ok: false, error: `fault '${key}' must be >= 0` };
    }
    (out as Record<string, number>)[key] = value;
  }
  return { ok: true, faults: out };
}
