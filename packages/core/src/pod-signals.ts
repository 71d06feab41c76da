// What a policy may know about a pod beyond the request: its in-flight legs (this replica's, or the sum
// over every replica when replicas share their counts) and what the pod last said about itself on its
// /metrics (vLLM's queue and KV-cache gauges). A signal that is stale is absent, never a guess.

/** A pod's own gauges, as last scraped and still fresh. */
export interface PodSignals {
  /** vllm:num_requests_waiting */
  readonly waiting: number;
  /** vllm:num_requests_running */
  readonly running: number;
  /** vllm:kv_cache_usage_perc (older vLLM: vllm:gpu_cache_usage_perc), 0..1; undefined when the pod exports neither. */
  readonly kvCacheUsage: number | undefined;
}

/** The load a policy reads, per pod URL. */
export interface LoadView {
  /** In-flight legs on the pod: fleet-wide when replicas share load, else this replica's own. */
  inFlight(url: string): number;
  /** The pod's own gauges, or undefined when never scraped or older than the staleness limit. */
  signals(url: string): PodSignals | undefined;
}
