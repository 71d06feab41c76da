import { countWordTokens } from './dataset.ts';
import { type Summary, summarizeMs } from './stats.ts';

/** What one request measured, in seconds, with vLLM's RequestFuncOutput meaning. */
export interface RequestOutput {
  success: boolean;
  /** Send -> last token chunk. */
  latency: number;
  /** From the usage chunk; 0 when the server sent none (then counted from the text). */
  outputTokens: number;
  /** Send -> first chunk carrying choices. */
  ttft: number;
  /** Gaps between consecutive choices chunks. */
  itl: number[];
  promptLen: number;
  error: string;
  /** Send time on the benchmark's monotonic clock (seconds). */
  startTime: number;
  /** Time spent waiting for a --max-concurrency slot. */
  clientQueueTime: number;
  generatedText: string;
}

export function emptyOutput(promptLen: number): RequestOutput {
  return {
    success: false,
    latency: 0,
    outputTokens: 0,
    ttft: 0,
    itl: [],
    promptLen,
    error: '',
    startTime: 0,
    clientQueueTime: 0,
    generatedText: '',
  };
}

export type GoodputSlos = Readonly<Partial<Record<'ttft' | 'tpot' | 'e2el', number>>>;

export interface BenchmarkMetrics {
  readonly completed: number;
  readonly failed: number;
  readonly totalInput: number;
  readonly totalOutput: number;
  readonly requestThroughput: number;
  readonly requestGoodput: number;
  readonly outputThroughput: number;
  readonly totalTokenThroughput: number;
  readonly ttftMs: Summary;
  readonly tpotMs: Summary;
  readonly itlMs: Summary;
  readonly e2elMs: Summary;
  readonly maxOutputTokensPerS: number;
  readonly maxConcurrentRequests: number;
  readonly actualOutputLens: readonly number[];
}

/**
 * vLLM's calculate_metrics: TPOT = (latency - ttft) / (output_len - 1) for requests with more than one token;
 * ITL = every gap between chunks; goodput = completed requests within every SLO (ms) per second; peak output
 * throughput = the most token chunks in one 1-second bucket counted from the first request's start; peak
 * concurrency by a sweep over [start, start + latency) intervals, departures before arrivals at equal times.
 */
export function calculateMetrics(
  outputs: readonly RequestOutput[],
  durationS: number,
  selectedPercentiles: readonly number[],
  goodput: GoodputSlos,
): BenchmarkMetrics {
  const actualOutputLens: number[] = [];
  const ttfts: number[] = [];
  const tpots: number[] = [];
  const allTpots: number[] = [];
  const itls: number[] = [];
  const e2els: number[] = [];
  let totalInput = 0;
  let completed = 0;
  for (const out of outputs) {
    if (!out.success) {
      actualOutputLens.push(0);
      continue;
    }
    const outputLen = out.outputTokens || countWordTokens(out.generatedText) || 1;
    actualOutputLens.push(outputLen);
    totalInput += out.promptLen;
    let tpot = 0;
    if (outputLen > 1) {
      tpot = (out.latency - out.ttft) / (outputLen - 1);
      tpots.push(tpot);
    }
    allTpots.push(tpot);
    for (const gap of out.itl) itls.push(gap);
    ttfts.push(out.ttft);
    e2els.push(out.latency);
    completed++;
  }

  let goodCompleted = 0;
  const slos = Object.entries(goodput) as [keyof GoodputSlos, number][];
  if (slos.length > 0) {
    for (let i = 0; i < ttfts.length; i++) {
      const values = { ttft: ttfts[i] as number, tpot: allTpots[i] as number, e2el: e2els[i] as number };
      if (slos.every(([name, sloMs]) => sloMs / 1000 >= values[name])) goodCompleted++;
    }
  }

  const { peakTokensPerS, peakConcurrency } = peaks(outputs.filter((o) => o.success));
  const totalOutput = actualOutputLens.reduce((a, b) => a + b, 0);
  return {
    completed,
    failed: outputs.length - completed,
    totalInput,
    totalOutput,
    requestThroughput: completed / durationS,
    requestGoodput: goodCompleted / durationS,
    outputThroughput: totalOutput / durationS,
    totalTokenThroughput: (totalInput + totalOutput) / durationS,
    ttftMs: summarizeMs(ttfts, selectedPercentiles),
    tpotMs: summarizeMs(tpots, selectedPercentiles),
    itlMs: summarizeMs(itls, selectedPercentiles),
    e2elMs: summarizeMs(e2els, selectedPercentiles),
    maxOutputTokensPerS: peakTokensPerS,
    maxConcurrentRequests: peakConcurrency,
    actualOutputLens,
  };
}

function peaks(successful: readonly RequestOutput[]): { peakTokensPerS: number; peakConcurrency: number } {
  if (successful.length === 0) return { peakTokensPerS: 0, peakConcurrency: 0 };
  let minStart = Number.POSITIVE_INFINITY;
  let maxEnd = Number.NEGATIVE_INFINITY;
  for (const o of successful) {
    minStart = Math.min(minStart, o.startTime);
    maxEnd = Math.max(maxEnd, o.startTime + o.latency);
  }
  const buckets = new Float64Array(Math.ceil(maxEnd - minStart) + 1);
  for (const o of successful) {
    let t = o.startTime + o.ttft;
    addToBucket(buckets, t - minStart);
    for (const gap of o.itl) {
      t += gap;
      addToBucket(buckets, t - minStart);
    }
  }
  let peakTokensPerS = 0;
  for (const b of buckets) peakTokensPerS = Math.max(peakTokensPerS, b);

  const events: [number, number][] = [];
  for (const o of successful) {
    events.push([o.startTime, 1], [o.startTime + o.latency, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let peakConcurrency = 0;
  for (const [, delta] of events) {
    current += delta;
    if (current > peakConcurrency) peakConcurrency = current;
  }
  return { peakTokensPerS, peakConcurrency };
}

function addToBucket(buckets: Float64Array, offsetS: number): void {
  const bucket = Math.trunc(offsetS);
  if (bucket >= 0 && bucket < buckets.length) buckets[bucket] = (buckets[bucket] as number) + 1;
}
