/**
 * Wall-clock check of the calibration: N concurrent streams on one pod with the default timing,
 * mean time per output token (after the first) as a client sees it.
 *   node packages/vllm-sim/scripts/tpot-check.ts [--seqs 4] [--tokens 200] [--prompt-tokens 8]
 * Long prompts arriving at different steps add their prefill to the running streams' steps (as in
 * vLLM with chunked prefill), which raises the mean TPOT; short prompts show the decode step alone.
 */
import { type FlagSpec, parseScriptFlags } from '@pdrouter/cli';
import { request } from 'undici';
import { SimPod } from '../src/index.ts';

const FLAGS = [
  { name: 'seqs', type: 'int', min: 1, default: 4, help: 'Concurrent streams on the pod.' },
  { name: 'tokens', type: 'int', min: 2, default: 200, help: 'Output tokens per stream.' },
  { name: 'prompt-tokens', type: 'int', min: 2, default: 8, help: 'Prompt length in tokens.' },
] as const satisfies readonly FlagSpec[];
const flags = parseScriptFlags(
  {
    program: 'node packages/vllm-sim/scripts/tpot-check.ts',
    intro: ['Mean TTFT and TPOT of N concurrent streams on one pod with the default timing, on the wall clock.'],
  },
  FLAGS,
);
const seqs = flags.seqs;
const tokens = flags.tokens;
const promptTokens = flags['prompt-tokens'];
const pod = new SimPod({ name: 'decode-0', role: 'both' });
await pod.start();
const one = async (i: number) => {
  const t0 = performance.now();
  const res = await request(`${pod.url}/v1/completions`, {
    method: 'POST',
    body: JSON.stringify({
      prompt: `stream ${i} ${'w '.repeat(Math.max(0, promptTokens - 2))}`,
      max_tokens: tokens,
      ignore_eos: true,
      stream: true,
    }),
  });
  let first = -1;
  for await (const _ of res.body) if (first < 0) first = performance.now();
  const end = performance.now();
  return { ttft: first - t0, tpot: (end - first) / (tokens - 1) };
};
const results = await Promise.all(Array.from({ length: seqs }, (_, i) => one(i)));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
process.stdout.write(
  `${JSON.stringify({ seqs, tokens, promptTokens, meanTtftMs: Number(mean(results.map((r) => r.ttft)).toFixed(2)), meanTpotMs: Number(mean(results.map((r) => r.tpot)).toFixed(3)) })}\n`,
);
await pod.stop();
