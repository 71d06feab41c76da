import type { LoadgenConfig } from './config.ts';
import type { BenchmarkMetrics, RequestOutput } from './metrics.ts';
import { type Summary, summarizeMs } from './stats.ts';

/** Python's str() of a float, as vLLM prints rates and factors: 1.0, 0.5, inf. */
export function pyFloat(x: number): string {
  if (x === Number.POSITIVE_INFINITY) return 'inf';
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/** Python's "{s:{c}^{n}}": centred, the odd padding character on the right. */
function centre(s: string, width: number, fill: string): string {
  const pad = Math.max(0, width - s.length);
  const left = Math.floor(pad / 2);
  return fill.repeat(left) + s + fill.repeat(pad - left);
}

function row(label: string, value: number | string, decimals?: number): string {
  const v = typeof value === 'number' && decimals !== undefined ? value.toFixed(decimals) : String(value);
  return `${label.padEnd(40)} ${v.padEnd(10)}`;
}

/** The lines `vllm bench serve` prints before the measured run. */
export function trafficLines(config: LoadgenConfig): string[] {
  const distribution = config.burstiness === 1 ? 'Poisson process' : 'Gamma distribution';
  return [
    `Traffic request rate: ${pyFloat(config.requestRate)}`,
    `Burstiness factor: ${pyFloat(config.burstiness)} (${distribution})`,
    `Maximum request concurrency: ${config.maxConcurrency ?? 'None'}`,
  ];
}

const METRIC_HEADERS = {
  ttft: ['TTFT', 'Time to First Token'],
  tpot: ['TPOT', 'Time per Output Token (excl. 1st token)'],
  itl: ['ITL', 'Inter-token Latency'],
  e2el: ['E2EL', 'End-to-end Latency'],
  client_queue_time: ['Client Queue Time', 'Client-side Queueing'],
} as const;
type PercentileMetric = keyof typeof METRIC_HEADERS;

export interface ReportInput {
  readonly config: LoadgenConfig;
  readonly modelId: string;
  readonly durationS: number;
  readonly metrics: BenchmarkMetrics;
  readonly outputs: readonly RequestOutput[];
  readonly clientCpuS: number;
  readonly date: Date;
}

/** vLLM's result table (same rows, labels and formats) and its result JSON (same keys), plus the client's CPU. */
export function buildReport(input: ReportInput): { table: string; result: Record<string, unknown> } {
  const { config, metrics: m, durationS, outputs } = input;
  const lines: string[] = [];
  lines.push(centre(' Serving Benchmark Result ', 50, '='));
  lines.push(row('Successful requests:', m.completed));
  lines.push(row('Failed requests:', m.failed));
  if (config.maxConcurrency !== undefined) lines.push(row('Maximum request concurrency:', config.maxConcurrency));
  if (config.requestRate !== Number.POSITIVE_INFINITY) {
    lines.push(row('Request rate configured (RPS):', config.requestRate, 2));
  }
  lines.push(row('Benchmark duration (s):', durationS, 2));
  lines.push(row('Total input tokens:', m.totalInput));
  lines.push(row('Total generated tokens:', m.totalOutput));
  lines.push(row('Request throughput (req/s):', m.requestThroughput, 2));
  const hasGoodput = Object.keys(config.goodput).length > 0;
  if (hasGoodput) lines.push(row('Request goodput (req/s):', m.requestGoodput, 2));
  lines.push(row('Output token throughput (tok/s):', m.outputThroughput, 2));
  lines.push(row('Peak output token throughput (tok/s):', m.maxOutputTokensPerS, 2));
  lines.push(row('Peak concurrent requests:', m.maxConcurrentRequests, 2));
  lines.push(row('Total token throughput (tok/s):', m.totalTokenThroughput, 2));

  const result: Record<string, unknown> = {
    date: pyDate(input.date),
    endpoint_type: config.backend,
    backend: config.backend,
    label: config.label ?? null,
    model_id: input.modelId,
    tokenizer_id: 'whitespace-words',
    num_prompts: config.numPrompts,
    ...config.metadata,
    request_rate: config.requestRate === Number.POSITIVE_INFINITY ? 'inf' : config.requestRate,
    burstiness: config.burstiness,
    max_concurrency: config.maxConcurrency ?? null,
    duration: durationS,
    completed: m.completed,
    failed: m.failed,
    total_input_tokens: m.totalInput,
    total_output_tokens: m.totalOutput,
    request_throughput: m.requestThroughput,
    request_goodput: hasGoodput ? m.requestGoodput : null,
    output_throughput: m.outputThroughput,
    total_token_throughput: m.totalTokenThroughput,
  };
  if (config.saveDetailed) {
    Object.assign(result, {
      input_lens: outputs.map((o) => o.promptLen),
      output_lens: m.actualOutputLens,
      ttfts: outputs.map((o) => o.ttft),
      itls: outputs.map((o) => o.itl),
    });
  }
  result.latencies = outputs.map((o) => o.latency);
  if (config.saveDetailed) {
    Object.assign(result, {
      start_times: outputs.map((o) => o.startTime),
      generated_texts: outputs.map((o) => o.generatedText),
      errors: outputs.map((o) => o.error),
    });
  }
  result.queue_times = outputs.map((o) => o.clientQueueTime);
  Object.assign(result, {
    max_output_tokens_per_s: m.maxOutputTokensPerS,
    max_concurrent_requests: m.maxConcurrentRequests,
    rtfx: 0,
  });

  const summaries: Record<PercentileMetric, Summary | undefined> = {
    ttft: m.ttftMs,
    tpot: m.tpotMs,
    itl: m.itlMs,
    e2el: m.e2elMs,
    client_queue_time:
      config.maxConcurrency !== undefined
        ? summarizeMs(
            outputs.filter((o) => o.success).map((o) => o.clientQueueTime),
            config.metricPercentiles,
          )
        : undefined,
  };
  for (const name of Object.keys(METRIC_HEADERS) as PercentileMetric[]) {
    const s = summaries[name];
    if (s === undefined || !config.percentileMetrics.includes(name)) continue;
    const [short, header] = METRIC_HEADERS[name];
    lines.push(centre(header, 50, '-'));
    lines.push(row(`Mean ${short} (ms):`, s.mean, 2));
    lines.push(row(`Median ${short} (ms):`, s.median, 2));
    result[`mean_${name}_ms`] = s.mean;
    result[`median_${name}_ms`] = s.median;
    result[`std_${name}_ms`] = s.std;
    for (const [p, value] of s.percentiles) {
      const word = String(p);
      lines.push(row(`P${word} ${short} (ms):`, value, 2));
      result[`p${word}_${name}_ms`] = value;
    }
  }
  lines.push('='.repeat(50));

  // Beyond vLLM: the client's own cost, so a reader can tell the generator was not the bottleneck.
  const perK = m.totalOutput > 0 ? input.clientCpuS / (m.totalOutput / 1000) : 0;
  const utilisation = durationS > 0 ? input.clientCpuS / durationS : 0;
  lines.push(row('Client CPU (s):', input.clientCpuS, 2));
  lines.push(row('Client CPU per 1k output tokens (ms):', perK * 1000, 3));
  lines.push(row('Client CPU utilisation (cores):', utilisation, 2));
  Object.assign(result, {
    backend_mode: config.backendMode,
    client_cpu_s: input.clientCpuS,
    client_cpu_ms_per_1k_output_tokens: perK * 1000,
    client_cpu_utilization: utilisation,
  });
  return { table: lines.join('\n'), result };
}

/** datetime.now().strftime("%Y%m%d-%H%M%S"). */
function pyDate(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** vLLM's default result file name: {label}-{rate}qps[-concurrency{n}]-{model}-{date}.json. */
export function defaultResultFilename(config: LoadgenConfig, modelId: string, date: string): string {
  const concurrency = config.maxConcurrency !== undefined ? `-concurrency${config.maxConcurrency}` : '';
  const model = modelId.split('/').at(-1) ?? modelId;
  return `${config.label ?? config.backend}-${pyFloat(config.requestRate)}qps${concurrency}-${model}-${date}.json`;
}
