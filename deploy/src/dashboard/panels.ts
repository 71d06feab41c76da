// The dashboard's content: what an operator of the seed deployment looks at, as PromQL over the metric
// names the proxy, discovery and vLLM export. `metricsUsed` lets a test check every name against the code.

export type PanelKind = 'timeseries' | 'stat' | 'table';

export interface PanelSpec {
  title: string;
  kind: PanelKind;
  unit: string;
  description: string;
  /** legendFormat per query; table panels show the labels instead. */
  queries: readonly { expr: string; legend?: string; instant?: boolean }[];
  width: number;
}

const NS = 'namespace="$namespace"';

export const ROWS: readonly { title: string; panels: readonly PanelSpec[] }[] = [
  {
    title: 'Traffic',
    panels: [
      {
        title: 'Output tokens/s (vLLM decode pods)',
        kind: 'timeseries',
        unit: 'short',
        width: 12,
        description: 'Generation throughput as the engines count it (vLLM pods scraped by the PodMonitor).',
        queries: [{ expr: `sum(rate(vllm:generation_tokens_total{${NS}}[1m]))`, legend: 'tok/s' }],
      },
      {
        title: 'Requests/s through the router',
        kind: 'timeseries',
        unit: 'reqps',
        width: 12,
        description: 'Client requests received by all proxy replicas, by route, and those answered with an error.',
        queries: [
          { expr: `sum by (route) (rate(vllm_router_requests_total{${NS}}[1m]))`, legend: '{{route}}' },
          {
            expr: `sum by (error_type) (rate(vllm_router_request_errors_total{${NS}}[1m]))`,
            legend: 'error {{error_type}}',
          },
        ],
      },
      {
        title: 'Router TTFT (p50, p99)',
        kind: 'timeseries',
        unit: 's',
        width: 12,
        description:
          "Request arrival to the first chunk written to the client, as the router sees it (both legs included), and the router's own share of it (TTFT minus the time spent waiting on the pods).",
        queries: [
          {
            expr: `histogram_quantile(0.5, sum by (le) (rate(pdrouter_ttft_seconds_bucket{${NS}}[5m])))`,
            legend: 'p50',
          },
          {
            expr: `histogram_quantile(0.99, sum by (le) (rate(pdrouter_ttft_seconds_bucket{${NS}}[5m])))`,
            legend: 'p99',
          },
          {
            expr: `histogram_quantile(0.5, sum by (le) (rate(pdrouter_router_overhead_seconds_bucket{${NS}}[5m])))`,
            legend: 'router overhead p50',
          },
          {
            expr: `histogram_quantile(0.99, sum by (le) (rate(pdrouter_router_overhead_seconds_bucket{${NS}}[5m])))`,
            legend: 'router overhead p99',
          },
        ],
      },
      {
        title: 'Client requests in flight, per replica',
        kind: 'timeseries',
        unit: 'short',
        width: 12,
        description:
          'Requests each proxy replica is serving; uneven values point at the Service or client connection reuse.',
        queries: [{ expr: `sum by (pod) (pdrouter_in_flight_requests{${NS}})`, legend: '{{pod}}' }],
      },
    ],
  },
  {
    title: 'Pods',
    panels: [
      {
        title: 'In-flight legs per vLLM pod',
        kind: 'timeseries',
        unit: 'short',
        width: 24,
        description:
          'Open prefill/decode legs on each pod, summed over the proxy replicas: the consistent-hash spread.',
        queries: [{ expr: `sum by (worker) (vllm_router_running_requests{${NS}})`, legend: '{{worker}}' }],
      },
      {
        title: 'Failovers/s by role',
        kind: 'timeseries',
        unit: 'ops',
        width: 8,
        description: 'Legs moved to the next distinct pod of the ring walk after a connection error, timeout or 5xx.',
        queries: [{ expr: `sum by (role) (rate(pdrouter_failovers_total{${NS}}[5m]))`, legend: '{{role}}' }],
      },
      {
        title: 'Ejections and re-admissions',
        kind: 'timeseries',
        unit: 'short',
        width: 8,
        description: 'Pods taken out of the failover walk after consecutive failures, and brought back by a probe.',
        queries: [
          { expr: `sum by (worker) (increase(pdrouter_ejections_total{${NS}}[5m]))`, legend: 'ejected {{worker}}' },
          { expr: `sum by (worker) (increase(pdrouter_readmissions_total{${NS}}[5m]))`, legend: 'back {{worker}}' },
        ],
      },
      {
        title: 'Prefill errors and decode-only fallbacks',
        kind: 'timeseries',
        unit: 'ops',
        width: 8,
        description: 'Failed prefill legs per pod; fallbacks only happen with --decode-only-fallback.',
        queries: [
          { expr: `sum by (worker) (rate(vllm_router_pd_prefill_errors_total{${NS}}[5m]))`, legend: '{{worker}}' },
          { expr: `sum(rate(pdrouter_decode_only_fallbacks_total{${NS}}[5m]))`, legend: 'decode-only' },
        ],
      },
    ],
  },
  {
    title: 'Membership',
    panels: [
      {
        title: 'Distinct ring fingerprints per role',
        kind: 'stat',
        unit: 'short',
        width: 6,
        description:
          'Should be 1 per role: more means replicas route the same key to different pods (runbook: rings differ).',
        queries: [
          { expr: `count by (role) (count by (role, fingerprint) (pdrouter_ring_info{${NS}}))`, legend: '{{role}}' },
        ],
      },
      {
        title: 'Snapshot age per replica',
        kind: 'timeseries',
        unit: 's',
        width: 9,
        description:
          'Seconds since each replica applied a snapshot; the leader republishes every --heartbeat-secs, so it stays below that while NATS and discovery are up.',
        queries: [{ expr: `max by (pod) (pdrouter_snapshot_age_seconds{${NS}})`, legend: '{{pod}}' }],
      },
      {
        title: 'Members per role (discovery vs proxies)',
        kind: 'timeseries',
        unit: 'short',
        width: 9,
        description: 'What the discovery leader sees against what each proxy routes to.',
        queries: [
          {
            expr: `max by (role) (pdrouter_discovery_members{${NS}} * on (pod) group_left pdrouter_discovery_leader{${NS}})`,
            legend: 'discovery {{role}}',
          },
          { expr: `min by (role) (pdrouter_members{${NS}})`, legend: 'proxies (min) {{role}}' },
        ],
      },
      {
        title: 'Fingerprint per replica',
        kind: 'table',
        unit: 'short',
        width: 12,
        description: 'The ring each proxy replica uses, per role.',
        queries: [
          { expr: `max by (pod, role, fingerprint, members, vnodes) (pdrouter_ring_info{${NS}})`, instant: true },
        ],
      },
      {
        title: 'Snapshot seq per replica',
        kind: 'timeseries',
        unit: 'short',
        width: 6,
        description: 'Replicas on the same (epoch, seq) route identically.',
        queries: [{ expr: `max by (pod) (pdrouter_snapshot_seq{${NS}})`, legend: '{{pod}}' }],
      },
      {
        title: 'Snapshots rejected/s',
        kind: 'timeseries',
        unit: 'ops',
        width: 6,
        description: 'Malformed or older snapshots refused by the proxies, by reason.',
        queries: [
          { expr: `sum by (reason) (rate(pdrouter_snapshots_rejected_total{${NS}}[5m]))`, legend: '{{reason}}' },
        ],
      },
    ],
  },
  {
    title: 'Control plane',
    panels: [
      {
        title: 'Discovery leader',
        kind: 'stat',
        unit: 'short',
        width: 6,
        description: 'Replicas holding the Lease: exactly 1 while discovery is healthy.',
        queries: [{ expr: `sum(pdrouter_discovery_leader{${NS}})`, legend: 'leaders' }],
      },
      {
        title: 'Seconds since the last publication',
        kind: 'stat',
        unit: 's',
        width: 6,
        description: 'Grows past --heartbeat-secs when the leader cannot publish (NATS down, no leader).',
        queries: [{ expr: `time() - max(pdrouter_discovery_last_publish_timestamp_seconds{${NS}})`, legend: 'age' }],
      },
      {
        title: 'Watch restarts and API errors',
        kind: 'timeseries',
        unit: 'short',
        width: 6,
        description: 'Pod watches re-established (closed, expired/410, error) and Kubernetes API errors.',
        queries: [
          {
            expr: `sum by (reason) (increase(pdrouter_discovery_watch_restarts_total{${NS}}[5m]))`,
            legend: '{{reason}}',
          },
          { expr: `sum(increase(pdrouter_discovery_api_errors_total{${NS}}[5m]))`, legend: 'api errors' },
        ],
      },
      {
        title: 'Publish errors',
        kind: 'timeseries',
        unit: 'short',
        width: 6,
        description: 'Failed snapshot publications (retried by the leader).',
        queries: [{ expr: `sum(increase(pdrouter_discovery_publish_errors_total{${NS}}[5m]))`, legend: 'errors' }],
      },
    ],
  },
];

/** Metric names in a PromQL expression (series selectors), with histogram suffixes kept. */
export function metricNamesIn(expr: string): string[] {
  const names = new Set<string>();
  const keywords = new Set([
    'sum',
    'max',
    'min',
    'count',
    'by',
    'rate',
    'increase',
    'histogram_quantile',
    'time',
    'on',
    'group_left',
  ]);
  for (const m of expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{|\[)/g)) {
    const name = m[1] as string;
    if (!keywords.has(name)) names.add(name);
  }
  return [...names];
}

export function metricsUsed(): string[] {
  const all = new Set<string>();
  for (const row of ROWS)
    for (const p of row.panels) for (const q of p.queries) for (const n of metricNamesIn(q.expr)) all.add(n);
  return [...all].sort();
}
