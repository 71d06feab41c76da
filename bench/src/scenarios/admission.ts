import { runLoadgenProcess, startPdProxyProcess, startSimFleetProcess } from '../harness/launchers.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import type { ScenarioContext } from './context.ts';

// Overload: requests arrive (Poisson) faster than the pods can serve them. Without admission control every
// request is forwarded, the pods' waiting queues grow and TTFT grows with them, so almost no request meets
// the SLO. With --max-concurrent-requests at the fleet's batch capacity and a short queue, the excess is
// refused at once with 429 and the admitted requests keep their latency: goodput stays near capacity.
const PODS_PER_ROLE = 2;
/** Small batches and a costly per-sequence step, so two cores can overload the fleet. */
const MAX_NUM_SEQS = 8;
const STEP_PER_SEQ_MS = 1;
const INPUT_LEN = 128;
const OUTPUT_LEN = 64;
const REQUEST_RATE = 30;
const QUICK_REQUEST_RATE = 30;
const PROMPTS = 600;
const QUICK_PROMPTS = 240;
const TTFT_SLO_MS = 1000;
const CAPACITY = PODS_PER_ROLE * MAX_NUM_SEQS;

interface Variant {
  readonly name: string;
  readonly proxyArgs: readonly string[];
}

const VARIANTS: readonly Variant[] = [
  { name: 'no admission control (defaults)', proxyArgs: [] },
  {
    name: `--max-concurrent-requests ${CAPACITY} --queue-size ${CAPACITY} --queue-timeout-secs 0.5`,
    proxyArgs: [
      '--max-concurrent-requests',
      String(CAPACITY),
      '--queue-size',
      String(CAPACITY),
      '--queue-timeout-secs',
      '0.5',
    ],
  },
];

export async function runAdmissionScenario(ctx: ScenarioContext): Promise<void> {
  const machine = machineInfo();
  const prompts = ctx.int('prompts') ?? (ctx.quick ? QUICK_PROMPTS : PROMPTS);
  const rate = ctx.int('rate') ?? (ctx.quick ? QUICK_REQUEST_RATE : REQUEST_RATE);
  const rows = [];
  for (const variant of VARIANTS) {
    const sim = await startSimFleetProcess([
      '--prefill',
      String(PODS_PER_ROLE),
      '--decode',
      String(PODS_PER_ROLE),
      '--max-num-seqs',
      String(MAX_NUM_SEQS),
      '--step-per-seq-ms',
      String(STEP_PER_SEQ_MS),
    ]);
    try {
      const proxy = await startPdProxyProcess(sim, ['--policy', 'consistent_hash', ...variant.proxyArgs]);
      try {
        const { result } = await runLoadgenProcess([
          '--base-url',
          proxy.url,
          '--backend',
          'openai',
          '--dataset-name',
          'random',
          '--random-input-len',
          String(INPUT_LEN),
          '--random-output-len',
          String(OUTPUT_LEN),
          '--num-prompts',
          String(prompts),
          '--request-rate',
          String(rate),
          '--goodput',
          `ttft:${TTFT_SLO_MS}`,
          '--seed',
          '1',
        ]);
        rows.push({ variant: variant.name, proxy_args: variant.proxyArgs, result });
        ctx.log(
          `${variant.name}: goodput ${fmt(Number(result.request_goodput))} req/s, completed ${result.completed}, ` +
            `failed ${result.failed}, median TTFT ${fmt(Number(result.median_ttft_ms))} ms`,
        );
      } finally {
        await proxy.child.stop();
      }
    } finally {
      await sim.child.stop();
    }
  }

  const json = {
    scenario: 'admission',
    quick: ctx.quick,
    machine,
    command: ctx.command,
    setup: {
      prefill_pods: PODS_PER_ROLE,
      decode_pods: PODS_PER_ROLE,
      max_num_seqs: MAX_NUM_SEQS,
      step_per_seq_ms: STEP_PER_SEQ_MS,
      input_len: INPUT_LEN,
      output_len: OUTPUT_LEN,
      prompts,
      request_rate: rate,
      ttft_slo_ms: TTFT_SLO_MS,
    },
    variants: rows,
  };
  const num = (r: Record<string, unknown>, k: string) => Number(r[k]);
  const md = [
    `# admission: goodput under overload with and without admission control${ctx.quick ? ' (--quick)' : ''}`,
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `${PODS_PER_ROLE} prefill + ${PODS_PER_ROLE} decode simulated pods, each running at most ${MAX_NUM_SEQS} sequences ` +
      `(the rest wait in the pod), ${STEP_PER_SEQ_MS} ms of step per sequence; ${prompts} random prompts of ` +
      `${INPUT_LEN} tokens in / ${OUTPUT_LEN} out arriving as a Poisson process at ${rate} req/s, more than the fleet ` +
      `serves. Goodput = requests completed with TTFT under ${TTFT_SLO_MS} ms, per second. Refused (429) requests ` +
      'count as failed: a client retries them elsewhere or later instead of waiting.',
    '',
    markdownTable(
      [
        'Proxy',
        'Goodput (req/s)',
        'Request throughput (req/s)',
        'Completed',
        'Failed (429)',
        'Median TTFT (ms)',
        'P99 TTFT (ms)',
        'Median TPOT (ms)',
      ],
      rows.map((r) => [
        r.variant,
        `**${fmt(num(r.result, 'request_goodput'))}**`,
        fmt(num(r.result, 'request_throughput')),
        String(r.result.completed),
        String(r.result.failed),
        fmt(num(r.result, 'median_ttft_ms')),
        fmt(num(r.result, 'p99_ttft_ms')),
        fmt(num(r.result, 'median_tpot_ms')),
      ]),
    ),
  ].join('\n');
  const files = await writeResults(ctx.name, json, md);
  ctx.log(`wrote ${files.join(', ')}`);
}
