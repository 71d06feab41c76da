// Prometheus metrics. vllm-router's names where the meaning is the same (dashboards keep working after the
// switch), pdrouter_* for what vllm-router does not measure. Hot-path updates go through label children
// bound once per route, and per-pod counts are plain numbers on the pod's state (pod-series.ts), so a
// request costs a few increments and no label hashing.
import { runInSlices } from '@pdrouter/core';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { POD_FAMILIES, type PodSeriesSource, podSeriesText } from './pod-series.ts';
import { yieldToLoop } from './ring-builder.ts';

/**
 * A scrape's slices: shorter than a ring update's (SLICE_MS), because each one also pushes its text
 * through the socket. Measured with `node bench/src/main.ts metrics-scrape` at 10,000 pods: event-loop
 * delay max 12-14 ms with 4 ms slices, 6-11 ms with 2 ms; the scrape takes as long either way (35-40 ms).
 */
const SCRAPE_SLICE_MS = 2;

/** A metric family as the metrics reference lists it (the per-pod families are not prom-client metrics). */
export interface MetricDefinition {
  name: string;
  type: string;
  help: string;
  labelNames: readonly string[];
}

/** vllm-router's duration buckets (seconds). */
const DURATION_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 45, 60, 90, 120, 180, 240,
];
/** Router-side TTFT: finer at the low end, where the router's own overhead shows. */
const TTFT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The router's own latency: sub-millisecond is the goal. */
const OVERHEAD_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];
/** Event-loop delay: 10 ms is the stall budget a ring update may cost; seconds are a blocked proxy. */
const EVENT_LOOP_DELAY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const ROUTES = ['/v1/completions', '/v1/chat/completions', '/v1/responses', '/v1/models'] as const;
export type MetricRoute = (typeof ROUTES)[number];

export interface RouteMetrics {
  requests: Counter.Internal;
  duration: Histogram.Internal<'route'>;
  pdRequests: Counter.Internal;
  pdDuration: Histogram.Internal<'route'>;
  ttft: Histogram.Internal<'route'>;
  overhead: Histogram.Internal<'route'>;
  streamDuration: Histogram.Internal<'route'>;
  clientCancels: Counter.Internal;
  retries: Counter.Internal;
}

/** A pod's /metrics answers in milliseconds; the top buckets show timeouts (--pod-metrics-timeout-ms). */
const SCRAPE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;
/** Retry delays: vllm-router's defaults start at 50 ms and cap at 30 s. */
const BACKOFF_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly routeCache = new Map<string, RouteMetrics>();
  private readonly errorCache = new Map<string, Counter.Internal>();
  private readonly pdErrorCache = new Map<string, Counter.Internal>();
  private pods: () => Iterable<PodSeriesSource> = () => [];

  readonly requestsTotal = this.counter('vllm_router_requests_total', 'Requests received, by route', ['route']);
  readonly requestDuration = this.histogram(
    'vllm_router_request_duration_seconds',
    'Request duration (arrival to last byte), by route',
    ['route'],
    DURATION_BUCKETS,
  );
  readonly requestErrors = this.counter(
    'vllm_router_request_errors_total',
    'Requests answered with an error, by route and error type',
    ['route', 'error_type'],
  );
  readonly retries = this.counter(
    'vllm_router_retries_total',
    'Legs re-sent to another pod after a failure, by route',
    ['route'],
  );
  readonly pdRequests = this.counter('vllm_router_pd_requests_total', 'P/D requests, by route', ['route']);
  readonly pdDuration = this.histogram(
    'vllm_router_pd_request_duration_seconds',
    'P/D request duration, by route',
    ['route'],
    DURATION_BUCKETS,
  );
  readonly pdErrors = this.counter('vllm_router_pd_errors_total', 'P/D errors, by error type', ['error_type']);
  readonly activeWorkers = this.gauge(
    'vllm_router_active_workers',
    'Members in the current snapshot that are not ejected',
    [],
  );

  readonly ttft = this.histogram(
    'pdrouter_ttft_seconds',
    'Router-side time to first token: request arrival to the first response chunk written to the client',
    ['route'],
    TTFT_BUCKETS,
  );
  readonly overhead = this.histogram(
    'pdrouter_router_overhead_seconds',
    "The router's own share of TTFT: TTFT minus the time spent waiting on pods (reading the client body, hashing, building bodies, connection waits, writing the first chunk)",
    ['route'],
    OVERHEAD_BUCKETS,
  );
  readonly streamDuration = this.histogram(
    'pdrouter_stream_duration_seconds',
    'First chunk to end of the response body',
    ['route'],
    DURATION_BUCKETS,
  );
  readonly failovers = this.counter('pdrouter_failovers_total', 'Legs moved to the next pod of the walk, by role', [
    'role',
  ]);
  readonly decodeOnlyFallbacks = this.counter(
    'pdrouter_decode_only_fallbacks_total',
    'Requests sent to decode without kv params because no prefill pod answered (--decode-only-fallback)',
    [],
  );
  readonly prefillSkipped = this.counter(
    'pdrouter_pd_prefill_skipped_total',
    'P/D requests sent decode-only by choice, by reason (short_prompt: --pd-min-prompt-tokens; decode_prefix_cached: --pd-skip-prefill-cached-ratio)',
    ['reason'],
  );
  readonly routingDecisions = this.counter(
    'pdrouter_routing_decisions_total',
    'Picks of the scoring policies (cache_aware, load_aware), by role, policy and why the pod won (prefix_match, least_loaded, ring_owner, all_filtered)',
    ['role', 'policy', 'reason'],
  );
  readonly prefixIndexEntries = this.gauge(
    'pdrouter_prefix_index_entries',
    'Block entries in the prefix index of a role (cache_aware, load_aware; at most twice --max-tree-size / 128)',
    ['role'],
  );
  readonly prefixIndexBytes = this.gauge(
    'pdrouter_prefix_index_bytes',
    'Estimated heap bytes of the prefix index of a role',
    ['role'],
  );
  readonly prefixIndexEvictions = this.counter(
    'pdrouter_prefix_index_evictions_total',
    'Prefix index entries dropped by the --eviction-interval sweep (the least recently used generation), by role',
    ['role'],
  );
  readonly midStreamFailures = this.counter(
    'pdrouter_midstream_failures_total',
    'Responses that broke after the first byte (the client got an SSE error event), by role',
    ['role'],
  );
  readonly clientCancels = this.counter(
    'pdrouter_client_cancels_total',
    'Requests the client abandoned before the end (both legs aborted), by route',
    ['route'],
  );
  readonly cbTransitions = this.counter(
    'vllm_router_cb_state_transitions_total',
    'Circuit breaker state changes, by pod and from/to state',
    ['worker', 'from', 'to'],
  );
  readonly retriesExhausted = this.counter(
    'vllm_router_retries_exhausted_total',
    'Legs that failed on every attempt --retry-max-retries allowed, by route',
    ['route'],
  );
  readonly retryBackoff = this.histogram(
    'vllm_router_retry_backoff_duration_seconds',
    'Delay waited before a retry, by attempt number (1 is the first retry)',
    ['attempt'],
    BACKOFF_BUCKETS,
  );
  readonly healthProbes = this.counter(
    'pdrouter_health_probes_total',
    'Active health probes (--health-check-interval-secs) and start-up checks, by result (ok, failed)',
    ['result'],
  );
  readonly decodeRetries = this.counter(
    'pdrouter_decode_retries_total',
    'Decode legs retried on another pod, by what the retry carried: kv="same" (nothing reached the failed pod, the same kv_transfer_params) or kv="fresh_prefill" (the failed pod may have pulled or freed the blocks, so a new prefill ran first)',
    ['kv'],
  );
  readonly members = this.gauge('pdrouter_members', 'Members in the current snapshot, by role', ['role']);
  readonly snapshotSeq = this.gauge('pdrouter_snapshot_seq', 'Sequence number of the snapshot in use', []);
  readonly snapshotEpoch = this.gauge('pdrouter_snapshot_epoch', 'Producer epoch of the snapshot in use', []);
  readonly snapshotAge = this.gauge(
    'pdrouter_snapshot_age_seconds',
    'Seconds since the snapshot in use was applied',
    [],
  );
  readonly snapshotsApplied = this.counter('pdrouter_snapshots_applied_total', 'Snapshots applied', []);
  readonly snapshotsRejected = this.counter(
    'pdrouter_snapshots_rejected_total',
    'Snapshots rejected, by reason (invalid, stale, pool, future, incomplete, mismatch, source)',
    ['reason'],
  );
  readonly natsConnectionEvents = this.counter(
    'pdrouter_nats_connection_events_total',
    'NATS connection changes of the snapshot source, by event (disconnect, reconnect)',
    ['event'],
  );
  readonly snapshotWatchRestarts = this.counter(
    'pdrouter_snapshot_watch_restarts_total',
    'Snapshot watches re-created, by cause (failed, reconnect, silent: nothing for longer than the heartbeat allows)',
    ['cause'],
  );
  readonly ringInfo = this.gauge(
    'pdrouter_ring_info',
    'The ring in use per role (value 1): fingerprint and member count as labels',
    ['role', 'fingerprint', 'members', 'vnodes'],
  );
  readonly snapshotInfo = this.gauge('pdrouter_snapshot_info', 'The snapshot in use (value 1)', [
    'pool',
    'fingerprint',
    'source',
  ]);
  readonly draining = this.gauge('pdrouter_draining', '1 while the proxy drains before exit', []);
  readonly inFlightRequests = this.gauge('pdrouter_in_flight_requests', 'Client requests being served', []);
  readonly admissionQueueDepth = this.gauge(
    'pdrouter_admission_queue_depth',
    'Requests waiting for a slot (--max-concurrent-requests, --rate-limit-tokens-per-second)',
    [],
  );
  readonly admissionQueueWait = this.histogram(
    'pdrouter_admission_queue_wait_seconds',
    'Time a queued request waited before it was admitted',
    [],
    DURATION_BUCKETS,
  );
  readonly admissionRejections = this.counter(
    'pdrouter_admission_rejections_total',
    'Requests refused by admission control, by reason (queue_full, queue_timeout: 429; client_gone)',
    ['reason'],
  );
  readonly kvLeftHeld = this.counter(
    'pdrouter_kv_left_held_total',
    'P/D requests that ended after their prefill and before a decode pod answered, leaving KV blocks held on the prefill pod until they expire, by why (client_closed, request_timeout, draining, no_decode; decode_retry: a decode pod that got the request failed before answering and the retry ran a fresh prefill, so the blocks of the first prefill may still be held)',
    ['reason'],
  );
  readonly bufferedBodyBytes = this.gauge(
    'pdrouter_buffered_body_bytes',
    'Bytes of request bodies held by requests in flight (capped by --max-buffered-body-bytes)',
    [],
  );
  readonly bodyBudgetRejections = this.counter(
    'pdrouter_body_budget_rejections_total',
    'Requests answered 503 because their body did not fit in --max-buffered-body-bytes',
    [],
  );

  readonly podScrapeDuration = this.histogram(
    'pdrouter_pod_scrape_duration_seconds',
    "Time to read a pod's /metrics (vLLM's queue and KV-cache gauges), successful or not",
    [],
    SCRAPE_BUCKETS,
  );
  readonly podScrapeErrors = this.counter(
    'pdrouter_pod_scrape_errors_total',
    'Pod /metrics reads that gave no gauges, by reason (timeout, network, http, too_large, parse)',
    ['reason'],
  );
  readonly eventLoopDelay = this.histogram(
    'pdrouter_event_loop_delay_seconds',
    'How much later than due a timer set every 10 ms fired: the stall any request or probe met at that moment (ring builds, snapshot parsing, large bodies)',
    [],
    EVENT_LOOP_DELAY_BUCKETS,
  );
  /** What podSignalsStale reports at each scrape of /metrics (the scraper sets it). */
  private staleSignals: () => number = () => 0;
  readonly podSignalsStale: Gauge = new Gauge({
    name: 'pdrouter_pod_signals_stale',
    help: 'Member pods whose gauges are missing or older than --pod-metrics-stale-ms (routing ignores them)',
    registers: [this.registry],
    collect: (): void => this.podSignalsStale.set(this.staleSignals()),
  });
  readonly loadSharePeers = this.gauge(
    'pdrouter_load_share_peers',
    'Other proxy replicas whose in-flight counts were heard within --load-share-stale-ms',
    [],
  );
  readonly loadShareMessages = this.counter(
    'pdrouter_load_share_messages_total',
    'Shared-load messages, by direction (out: published, in: from another replica) and result (ok, invalid, failed)',
    ['direction', 'result'],
  );
  readonly prefixShareBlocks = this.counter(
    'pdrouter_prefix_share_blocks_total',
    "Prefix-index blocks shared between replicas in the shared-load messages (--prefix-share-max-blocks), by direction and result: out ok (sent), out dropped (over the per-message limit, or NATS away), in ok (recorded), in not_member (a pod not in this replica's snapshot), in incompatible (another block hash or block size), in not_indexed (a role whose policy here keeps no prefix index: the replicas run different policies)",
    ['direction', 'result'],
  );
  readonly loadSharePeersExpired = this.counter(
    'pdrouter_load_share_peers_expired_total',
    'Replicas whose counts were dropped after nothing was heard from them for --load-share-stale-ms',
    [],
  );

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  route(route: string): RouteMetrics {
    let m = this.routeCache.get(route);
    if (!m) {
      m = {
        requests: this.requestsTotal.labels(route),
        duration: this.requestDuration.labels(route),
        pdRequests: this.pdRequests.labels(route),
        pdDuration: this.pdDuration.labels(route),
        ttft: this.ttft.labels(route),
        overhead: this.overhead.labels(route),
        streamDuration: this.streamDuration.labels(route),
        clientCancels: this.clientCancels.labels(route),
        retries: this.retries.labels(route),
      };
      this.routeCache.set(route, m);
    }
    return m;
  }

  /**
   * Where the per-pod families (pod-series.ts) read their pods at each scrape: the pod registry's states.
   * Their series are the pods', so a pod that leaves takes them along.
   */
  reportPods(pods: () => Iterable<PodSeriesSource>): void {
    this.pods = pods;
  }

  /** Drops the series of a pod that left the membership that still live in prom-client's families. */
  removePod(worker: string): void {
    for (const from of CIRCUIT_STATES) for (const to of CIRCUIT_STATES) this.cbTransitions.remove(worker, from, to);
  }

  /**
   * The whole exposition in Prometheus' text format, handed to `write` in chunks: prom-client's families
   * at once, then the per-pod families in slices of ~2 ms, so a scrape at 10,000 pods never
   * holds the event loop for long. Between slices it waits on `pause` (a writer's backpressure, say); the
   * next turn of the event loop unless given.
   */
  async expose(write: (chunk: string) => void, pause: () => Promise<void> = yieldToLoop): Promise<void> {
    write(await this.registry.metrics());
    await runInSlices(
      podSeriesText(() => this.pods(), write),
      { pause, sliceMs: SCRAPE_SLICE_MS },
    );
  }

  /** The exposition as one string (tests, tools). */
  async text(): Promise<string> {
    const chunks: string[] = [];
    await this.expose((c) => chunks.push(c));
    return chunks.join('');
  }

  /** Every family /metrics exposes: prom-client's metrics, then the per-pod families (the metrics reference lists them). */
  families(): MetricDefinition[] {
    const own = this.registry.getMetricsAsArray().map((m) => ({
      name: m.name,
      help: m.help,
      type: String(m.type),
      labelNames: (m as { labelNames?: readonly string[] }).labelNames ?? [],
    }));
    const perPod = POD_FAMILIES.map(({ name, help, type, labelNames }) => ({ name, help, type, labelNames }));
    return [...own, ...perPod];
  }

  /** The count pdrouter_pod_signals_stale reports (the pod scraper's). */
  reportStaleSignals(count: () => number): void {
    this.staleSignals = count;
  }

  requestError(route: string, errorType: string): void {
    const key = `${route}\u0000${errorType}`;
    let c = this.errorCache.get(key);
    if (!c) {
      c = this.requestErrors.labels(route, errorType);
      this.errorCache.set(key, c);
    }
    c.inc();
  }

  pdError(errorType: string): void {
    let c = this.pdErrorCache.get(errorType);
    if (!c) {
      c = this.pdErrors.labels(errorType);
      this.pdErrorCache.set(errorType, c);
    }
    c.inc();
  }

  private counter<T extends string>(name: string, help: string, labelNames: T[]): Counter<T> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge<T extends string>(name: string, help: string, labelNames: T[]): Gauge<T> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<T extends string>(name: string, help: string, labelNames: T[], buckets: number[]): Histogram<T> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}
