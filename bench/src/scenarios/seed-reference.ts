/**
 * The seed deployment's published numbers (vllm-router, 8P+8D Llama-3.1-8B on real GPUs, `vllm bench serve`,
 * 200 random prompts, 1000 in / 1000 out), from the llm-d vllm-router benchmark report the seed deployment
 * published. Shown as a reference line only; they were measured on GPUs, not on this machine.
 */
export interface SeedRow {
  readonly concurrency: number;
  readonly outputThroughput: number;
  readonly peakOutputThroughput: number;
  readonly requestThroughput: number;
  readonly meanTtftMs: number;
  readonly medianTtftMs: number;
  readonly meanTpotMs: number;
  readonly medianTpotMs: number;
}

export const SEED_VLLM_ROUTER: readonly SeedRow[] = [
  {
    concurrency: 32,
    outputThroughput: 4752,
    peakOutputThroughput: 5495,
    requestThroughput: 4.75,
    meanTtftMs: 79.26,
    medianTtftMs: 59.63,
    meanTpotMs: 5.95,
    medianTpotMs: 5.92,
  },
  {
    concurrency: 64,
    outputThroughput: 6626,
    peakOutputThroughput: 10469,
    requestThroughput: 6.63,
    meanTtftMs: 115.64,
    medianTtftMs: 69.53,
    meanTpotMs: 6.37,
    medianTpotMs: 6.38,
  },
  {
    concurrency: 128,
    outputThroughput: 15221,
    peakOutputThroughput: 19286,
    requestThroughput: 15.22,
    meanTtftMs: 231.47,
    medianTtftMs: 215.26,
    meanTpotMs: 7.15,
    medianTpotMs: 7.08,
  },
  {
    concurrency: 256,
    outputThroughput: 8000,
    peakOutputThroughput: 10042,
    requestThroughput: 8.0,
    meanTtftMs: 380.61,
    medianTtftMs: 381.37,
    meanTpotMs: 6.9,
    medianTpotMs: 6.89,
  },
];
