/**
 * Prometheus text exposition of one pod, with vLLM's metric names (vllm/v1/metrics/loggers.py) and
 * labels (model_name, engine). Written by hand: a scrape formats a few dozen lines, nothing on the hot
 * path touches a registry.
 */

/** vLLM's buckets for vllm:time_to_first_token_seconds. */
export const TTFT_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
  640.0, 2560.0,
]);

/** vLLM's buckets for vllm:inter_token_latency_seconds. */
export const ITL_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
]);

/** vLLM's buckets for vllm:e2e_request_latency_seconds. */
export const E2E_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0,
  7680.0,
]);

export class Histogram {
  readonly buckets: readonly number[];
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(buckets: readonly number[]) {
    this.buckets = buckets;
    this.counts = new Array<number>(buckets.length).fill(0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= (this.buckets[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

export interface PodMetricsSnapshot {
  readonly model: string;
  readonly podName: string;
  readonly running: number;
  readonly waiting: number;
  readonly kvCacheUsage: number;
  readonly prefixCacheQueries: number;
  readonly prefixCacheHits: number;
  readonly promptTokens: number;
  readonly generationTokens: number;
  readonly successByReason: Readonly<Record<string, number>>;
  readonly ttft: Histogram;
  readonly itl: Histogram;
  readonly e2e: Histogram;
  readonly requests: number;
  readonly prefillRequests: number;
  readonly remotePrefillHits: number;
  readonly fallbacksByReason: Readonly<Record<string, number>>;
  readonly cancelled: number;
  readonly injectedErrorsByStatus: Readonly<Record<string, number>>;
  readonly kvFetchesServed: number;
  readonly latencySpikes: number;
}

function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

export function renderMetrics(m: PodMetricsSnapshot): string {
  const base = `model_name="${labelValue(m.model)}",engine="0"`;
  const pod = `pod="${labelValue(m.podName)}"`;
  const lines: string[] = [];
  const gauge = (name: string, help: string, value: number): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name}{${base}} ${num(value)}`);
  };
  const counter = (name: string, help: string, value: number, labels = base): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name}{${labels}} ${num(value)}`);
  };
  const histogram = (name: string, help: string, h: Histogram): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    let cumulative = 0;
    for (let i = 0; i < h.buckets.length; i++) {
      cumulative += h.counts[i] as number;
      lines.push(`${name}_bucket{${base},le="${num(h.buckets[i] as number)}"} ${num(cumulative)}`);
    }
    lines.push(
      `${name}_bucket{${base},le="+Inf"} ${num(h.count)}`,
      `${name}_count{${base}} ${num(h.count)}`,
      `${name}_sum{${base}} ${num(h.sum)}`,
    );
  };
  const labelled = (
    name: string,
    help: string,
    label: string,
    values: Readonly<Record<string, number>>,
    labels: string,
  ): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
    for (const [k, v] of Object.entries(values)) lines.push(`${name}{${labels},${label}="${labelValue(k)}"} ${num(v)}`);
  };
  gauge('vllm:num_requests_running', 'Number of requests in model execution batches.', m.running);
  gauge('vllm:num_requests_waiting', 'Number of requests waiting to be processed.', m.waiting);
  gauge('vllm:kv_cache_usage_perc', 'KV-cache usage. 1 means 100 percent usage.', m.kvCacheUsage);
  counter(
    'vllm:prefix_cache_queries_total',
    'Prefix cache queries, in terms of number of queried tokens.',
    m.prefixCacheQueries,
  );
  counter('vllm:prefix_cache_hits_total', 'Prefix cache hits, in terms of number of cached tokens.', m.prefixCacheHits);
  counter('vllm:prompt_tokens_total', 'Number of prefill tokens processed.', m.promptTokens);
  counter('vllm:generation_tokens_total', 'Number of generation tokens processed.', m.generationTokens);
  labelled(
    'vllm:request_success_total',
    'Count of successfully processed requests.',
    'finished_reason',
    m.successByReason,
    base,
  );
  histogram('vllm:time_to_first_token_seconds', 'Histogram of time to first token in seconds.', m.ttft);
  histogram('vllm:inter_token_latency_seconds', 'Histogram of inter-token latency in seconds.', m.itl);
  histogram('vllm:e2e_request_latency_seconds', 'Histogram of e2e request latency in seconds.', m.e2e);
  counter('vllm_sim:requests_total', 'Inference requests received by the simulated pod.', m.requests, pod);
  counter(
    'vllm_sim:prefill_requests_total',
    'Requests with kv_transfer_params.do_remote_decode (P/D prefill leg).',
    m.prefillRequests,
    pod,
  );
  counter(
    'vllm_sim:remote_prefill_hits_total',
    'Decode requests whose kv_transfer_params pulled valid KV blocks.',
    m.remotePrefillHits,
    pod,
  );
  labelled(
    'vllm_sim:local_prefill_fallbacks_total',
    'Decode requests that prefilled locally because their kv_transfer_params were unusable.',
    'reason',
    m.fallbacksByReason,
    pod,
  );
  counter(
    'vllm_sim:cancelled_total',
    'Requests whose client went away before the response finished.',
    m.cancelled,
    pod,
  );
  labelled(
    'vllm_sim:injected_errors_total',
    'Errors answered by fault injection.',
    'status',
    m.injectedErrorsByStatus,
    pod,
  );
  counter('vllm_sim:kv_fetches_served_total', 'KV block pulls served to decode pods.', m.kvFetchesServed, pod);
  counter('vllm_sim:latency_spikes_total', 'Engine steps slowed by an injected latency spike.', m.latencySpikes, pod);
  return `${lines.join('\n')}\n`;
}
