// The per-pod metric families (vllm_router_*{worker}): plain numbers on each pod's state, written out in
// Prometheus' text format only when /metrics is scraped. Thirteen prom-client series bound per pod held
// ~4 KiB of heap per pod (label objects, bound functions, hash entries), and a scrape at 10,000 pods
// rendered them in one ~150 ms block; here a pod costs one small object and a scrape runs in slices
// between requests (docs/architecture.md, "Data plane: the proxies").

/** What the router counts for one pod. Counters only grow; `running`, `health` and `cbState` are gauges. */
export class PodCounters {
  prefillRequests = 0;
  decodeRequests = 0;
  processed = 0;
  prefillErrors = 0;
  decodeErrors = 0;
  streamErrors = 0;
  /** In-flight legs on the pod. */
  running = 0;
  /** 1 admitted, 0 ejected. */
  health = 1;
  ejections = 0;
  readmissions = 0;
  /** CIRCUIT_STATE_CODE of the pod's breaker. */
  cbState = 0;
  cbSuccesses = 0;
  cbFailures = 0;
}

export interface PodSeriesSource {
  readonly url: string;
  readonly counters: PodCounters;
}

interface PodFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  labelNames: readonly string[];
  /** Series of one pod: extra labels (after worker) and the value read from its counters. */
  series: readonly { labels: string; value: (c: PodCounters) => number }[];
}

const WORKER = ['worker'] as const;
const one = (value: (c: PodCounters) => number) => [{ labels: '', value }];

/**
 * The families, their names and help as vllm-router's (and pdrouter's own ejections/readmissions). A
 * counter's series appears once it has counted something, as prom-client's did; a gauge's always.
 */
export const POD_FAMILIES: readonly PodFamily[] = [
  {
    name: 'vllm_router_pd_prefill_requests_total',
    help: 'Prefill legs sent, by pod',
    type: 'counter',
    labelNames: WORKER,
    series: one((c) => c.prefillRequests),
  },
  {
    name: 'vllm_router_pd_decode_requests_total',
    help: 'Decode legs sent, by pod',
    type: 'counter',
    labelNames: WORKER,
    series: one((c) => c.decodeRequests),
  },
  {
    name: 'vllm_router_pd_prefill_errors_total',
    help: 'Prefill legs that failed (connection, timeout, 5xx), by pod',
    type: 'counter',
    labelNames: WORKER,
    series: one((c) => c.prefillErrors),
  },
  {
    name: 'vllm_router_pd_decode_errors_total',
    help: 'Decode legs that failed before the first byte, by pod',
    type: 'counter',
    labelNames: WORKER,
    series: one((c) => c.decodeErrors),
  },
  {
    name: 'vllm_router_pd_stream_errors_total',
    help: 'Responses that broke after the first byte, by pod',
    type: 'counter',
    labelNames: WORKER,
    series: one((c) => c.streamErrors),
  },
  {
    name: 'vllm_router_processed_requests_total',
    help: 'Plain-mode requests sent, by pod',
    type: 'counter',
    labelNames: WORKER,
    series: one((c) => c.processed),
  },
  {
    name: 'vllm_router_running_requests',
    help: 'In-flight legs the router has open on each pod',
    type: 'gauge',
    labelNames: WORKER,
    series: one((c) => c.running),
  },
  {
    name: 'vllm_router_worker_health',
    help: 'Pod health as the router sees it (1 admitted, 0 ejected)',
    type: 'gauge',
    labelNames: WORKER,
    series: one((c) => c.health),
  },
  {
    name: 'pdrouter_ejections_total',
    help: 'Pods taken out of the failover walk (circuit opened after failures, a failed trial or failing health probes)',
    type: 'counter',
    labelNames: WORKER,
    series: one((c) => c.ejections),
  },
  {
    name: 'pdrouter_readmissions_total',
    help: 'Pods back in the walk: circuit closed after --cb-success-threshold successful trial requests',
    type: 'counter',
    labelNames: WORKER,
    series: one((c) => c.readmissions),
  },
  {
    name: 'vllm_router_cb_state',
    help: "Each pod's circuit breaker state (0 closed, 1 open, 2 half_open)",
    type: 'gauge',
    labelNames: WORKER,
    series: one((c) => c.cbState),
  },
  {
    name: 'vllm_router_cb_outcomes_total',
    help: "Outcomes fed to a pod's circuit breaker (success, failure; client errors count as success, our own deadlines not at all)",
    type: 'counter',
    labelNames: ['worker', 'outcome'],
    series: [
      { labels: ',outcome="success"', value: (c) => c.cbSuccesses },
      { labels: ',outcome="failure"', value: (c) => c.cbFailures },
    ],
  },
];

/** Pods written per step of podSeriesText: a few hundred lines, well under a slice. */
export const PODS_PER_STEP = 256;

/** A label value as the text format quotes it (prom-client's escaping). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/**
 * The per-pod families in the text format, family after family, handed to `write` in chunks; yields after
 * every `step` pods. A pod that joins or leaves while a scrape runs may be in some families and not in
 * others; every value is the pod's at the moment its line was written.
 */
export function* podSeriesText(
  pods: () => Iterable<PodSeriesSource>,
  write: (chunk: string) => void,
  step = PODS_PER_STEP,
): Generator<void, void> {
  for (const family of POD_FAMILIES) {
    let chunk = `\n# HELP ${family.name} ${family.help}\n# TYPE ${family.name} ${family.type}\n`;
    let n = 0;
    for (const pod of pods()) {
      const worker = escapeLabelValue(pod.url);
      for (const s of family.series) {
        const v = s.value(pod.counters);
        if (family.type === 'counter' && v === 0) continue;
        chunk += `${family.name}{worker="${worker}"${s.labels}} ${v}\n`;
      }
      if (++n % step === 0) {
        write(chunk);
        chunk = '';
        yield;
      }
    }
    if (chunk !== '') write(chunk);
  }
}
