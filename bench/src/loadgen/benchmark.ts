import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { arrivalOffsetsS } from './arrivals.ts';
import type { LoadgenConfig } from './config.ts';
import { type SampleRequest, sampleRandomDataset } from './dataset.ts';
import { calculateMetrics, emptyOutput, type RequestOutput } from './metrics.ts';
import { runMultiTurn } from './multi-turn.ts';
import { buildReport, defaultResultFilename, trafficLines } from './report.ts';
import { SeededRandom } from './rng.ts';
import { summarizeMs } from './stats.ts';
import type { Target } from './targets.ts';

/** Pause between failed ready-check attempts. */
const READY_CHECK_RETRY_MS = 1_000;

export interface BenchmarkRun {
  readonly table: string;
  readonly result: Record<string, unknown>;
  readonly outputs: readonly RequestOutput[];
  readonly resultFile: string | undefined;
}

/** A counting semaphore for --max-concurrency (FIFO, so requests start in dataset order). */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  acquire(): Promise<void> | undefined {
    if (this.#free > 0) {
      this.#free--;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `vllm bench serve`'s benchmark(): dataset, arrival times, concurrency cap, metrics, table and result JSON. */
export async function runBenchmark(
  config: LoadgenConfig,
  target: Target,
  log: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<BenchmarkRun> {
  const info = config.quiet ? () => {} : log;
  const modelId = config.model ?? (await target.firstModel());
  const model = config.servedModelName ?? modelId;
  if (config.datasetName === 'multi-turn') return runMultiTurnBenchmark(config, target, modelId, model, log);
  const requests = sampleRandomDataset({
    numPrompts: config.numPrompts,
    inputLen: config.randomInputLen,
    outputLen: config.randomOutputLen,
    rangeRatio: config.randomRangeRatio,
    prefixLen: config.randomPrefixLen,
    seed: config.seed,
    requestIdPrefix: config.requestIdPrefix,
  });
  const first = requests[0] as SampleRequest;

  if (config.readyCheckTimeoutSec > 0) {
    const deadline = performance.now() + config.readyCheckTimeoutSec * 1000;
    for (;;) {
      const out = emptyOutput(first.promptLen);
      await target.send(first, model, out, performance.now());
      if (out.success) break;
      if (performance.now() > deadline) throw new Error(`Initial test run failed: ${out.error}`);
      await sleep(READY_CHECK_RETRY_MS);
    }
    info('Initial test run completed.');
  }
  if (config.numWarmups > 0) {
    info(`Warming up with ${config.numWarmups} requests...`);
    const slots = new Slots(config.maxConcurrency ?? config.numWarmups);
    await Promise.all(
      Array.from({ length: config.numWarmups }, async () => {
        await slots.acquire();
        try {
          await target.send(first, model, emptyOutput(first.promptLen), performance.now());
        } finally {
          slots.release();
        }
      }),
    );
    info('Warmup run completed.');
  }

  info('Starting main benchmark run...');
  for (const line of trafficLines(config)) info(line);
  const offsetsS = arrivalOffsetsS(
    requests.length,
    config.requestRate,
    config.burstiness,
    new SeededRandom(config.seed ^ 0x5bd1e995),
  );
  const outputs = requests.map((r) => emptyOutput(r.promptLen));
  const slots = new Slots(config.maxConcurrency ?? Number.MAX_SAFE_INTEGER);
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  const tasks: Promise<void>[] = [];
  for (let i = 0; i < requests.length; i++) {
    const dueMs = t0 + (offsetsS[i] as number) * 1000;
    const waitMs = dueMs - performance.now();
    if (waitMs > 0) await sleep(waitMs);
    const sample = requests[i] as SampleRequest;
    const out = outputs[i] as RequestOutput;
    const arrivalMs = performance.now();
    tasks.push(
      (async () => {
        await slots.acquire();
        const startMs = performance.now();
        out.startTime = startMs / 1000;
        out.clientQueueTime = (startMs - arrivalMs) / 1000;
        try {
          await target.send(sample, model, out, startMs);
        } finally {
          slots.release();
        }
      })(),
    );
  }
  await Promise.all(tasks);
  const durationS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const clientCpuS = (cpu.user + cpu.system) / 1e6;

  const metrics = calculateMetrics(outputs, durationS, config.metricPercentiles, config.goodput);
  const failures = outputs.filter((o) => !o.success);
  if (failures.length > 0) {
    info('Failed requests during benchmark run detected (capping to 10):');
    for (const [i, o] of failures.slice(0, 10).entries()) info(`Error ${i}: ${o.error}`);
  }
  const date = new Date();
  const { table, result } = buildReport({ config, modelId, durationS, metrics, outputs, clientCpuS, date });
  log(table);

  const resultFile = await saveResult(config, modelId, result);
  return { table, result, outputs, resultFile };
}

/** Writes the result JSON when --save-result is on; returns its path (undefined when nothing was written). */
async function saveResult(
  config: LoadgenConfig,
  modelId: string,
  result: Record<string, unknown>,
): Promise<string | undefined> {
  if (!config.saveResult) return undefined;
  const name = config.resultFilename ?? defaultResultFilename(config, modelId, result.date as string);
  const resultFile = config.resultDir !== undefined ? join(config.resultDir, name) : name;
  if (config.resultDir !== undefined) await mkdir(config.resultDir, { recursive: true });
  await writeFile(resultFile, JSON.stringify(result));
  return resultFile;
}

/** The multi-turn dataset: sessions instead of independent prompts; the same metrics, table and JSON keys. */
async function runMultiTurnBenchmark(
  config: LoadgenConfig,
  target: Target,
  modelId: string,
  model: string,
  log: (line: string) => void,
): Promise<BenchmarkRun> {
  const mt = config.multiTurn;
  const run = await runMultiTurn(
    { ...mt, outputLen: config.randomOutputLen, seed: config.seed, requestIdPrefix: config.requestIdPrefix },
    config.maxConcurrency ?? mt.sessions,
    target,
    model,
  );
  const metrics = calculateMetrics(run.outputs, run.durationS, config.metricPercentiles, config.goodput);
  const date = new Date();
  const { table, result } = buildReport({
    config: { ...config, numPrompts: run.outputs.length },
    modelId,
    durationS: run.durationS,
    metrics,
    outputs: run.outputs,
    clientCpuS: run.clientCpuS,
    date,
  });
  result.dataset_name = 'multi-turn';
  result.multi_turn = {
    ...mt,
    per_turn: Array.from({ length: mt.turns }, (_, turn) => {
      const ttfts = run.outputs.filter((o, i) => run.turnOf[i] === turn && o.success).map((o) => o.ttft);
      const s = summarizeMs(ttfts, [99]);
      return {
        turn: turn + 1,
        completed: ttfts.length,
        mean_ttft_ms: s.mean,
        median_ttft_ms: s.median,
        p99_ttft_ms: s.percentiles[0]?.[1],
      };
    }),
  };
  log(table);
  const resultFile = await saveResult(config, modelId, result);
  return { table, result, outputs: run.outputs, resultFile };
}
