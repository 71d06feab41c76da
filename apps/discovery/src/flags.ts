// The discovery command line, declared once: the parser, `--help` and docs/configuration.md are all built
// from DISCOVERY_FLAGS.

import type { FlagSpec } from '@pdrouter/cli';
import { DEFAULT_LIST_PAGE_SIZE, DEFAULT_WATCH_TIMEOUT_SECS, MAX_WATCH_TIMEOUT_SECS } from './pod-informer.ts';

export const DISCOVERY_FLAGS = [
  // --- what to watch ---
  {
    name: 'namespace',
    type: 'string',
    default: 'default',
    env: 'POD_NAMESPACE',
    valueName: 'NS',
    help: 'Namespace of the vLLM pods (and of the Lease unless --lease-namespace is set).',
  },
  {
    name: 'prefill-selector',
    type: 'string',
    valueName: 'SELECTOR',
    help: 'Label selector of the prefill pods, e.g. `app=vllm,role=prefill`.',
  },
  {
    name: 'decode-selector',
    type: 'string',
    valueName: 'SELECTOR',
    help: 'Label selector of the decode pods. Required with --prefill-selector.',
  },
  {
    name: 'plain-selector',
    type: 'string',
    valueName: 'SELECTOR',
    help: 'Label selector of plain (non-P/D) pods. At least one selector must be given.',
  },
  {
    name: 'target-port',
    type: 'int',
    default: 8000,
    min: 1,
    help: 'Port of the vLLM HTTP server in each pod when the pod has no port annotation.',
  },
  {
    name: 'port-annotation',
    type: 'string',
    default: 'vllm.ai/port',
    valueName: 'KEY',
    help: 'Pod annotation that overrides --target-port for that pod.',
  },
  {
    name: 'bootstrap-port-annotation',
    type: 'string',
    default: 'vllm.ai/bootstrap-port',
    valueName: 'KEY',
    help: "Pod annotation carrying the prefill pod's KV-transfer bootstrap port.",
  },
  {
    name: 'pool',
    type: 'string',
    default: 'default',
    help: 'Pool name: the snapshot key in the bucket; proxies subscribe with the same --pool.',
  },
  // --- Kubernetes API ---
  {
    name: 'kubeconfig',
    type: 'string',
    env: 'KUBECONFIG',
    valueName: 'FILE',
    help: 'Kubeconfig file; without it the in-cluster service-account configuration is used.',
  },
  {
    name: 'watch-backoff-min-ms',
    type: 'int',
    default: 1000,
    min: 1,
    help: 'First delay before re-listing/re-watching after an API error; doubles per failure.',
  },
  { name: 'watch-backoff-max-ms', type: 'int', default: 30000, min: 1, help: 'Upper bound of the API error backoff.' },
  {
    name: 'watch-timeout-secs',
    type: 'int',
    default: DEFAULT_WATCH_TIMEOUT_SECS,
    min: 1,
    max: MAX_WATCH_TIMEOUT_SECS,
    help:
      'Server-side duration of one watch request; the API server sends a bookmark just before it ends the watch, and the watch resumes from that resourceVersion. ' +
      'At most 25: the Kubernetes client aborts a watch that sent nothing for 30 s, and the server bookmarks a quiet watch only about once a minute otherwise, so a longer watch on a quiet selector would be cut without a fresh resourceVersion (and relist after compaction).',
  },
  {
    name: 'list-page-size',
    type: 'int',
    default: DEFAULT_LIST_PAGE_SIZE,
    min: 1,
    help: 'Pods per page when listing (`limit`/`continue`, as client-go lists); a page token that expired mid-list restarts the list in one request.',
  },
  // --- leader election ---
  {
    name: 'lease-name',
    type: 'string',
    default: 'pdrouter-discovery',
    help: 'coordination.k8s.io/v1 Lease used to elect the one replica that publishes.',
  },
  { name: 'lease-namespace', type: 'string', valueName: 'NS', help: 'Namespace of the Lease (default: --namespace).' },
  {
    name: 'lease-duration-secs',
    type: 'number',
    default: 15,
    min: 1,
    help: "How long a leader's claim lasts without renewal; a dead leader is replaced within about this long. The leader renews every third of it.",
  },
  {
    name: 'identity',
    type: 'string',
    env: 'POD_NAME',
    help: "This replica's identity in the Lease (default: hostname-pid).",
  },
  // --- publishing ---
  {
    name: 'nats-url',
    type: 'string',
    env: 'NATS_URL',
    valueName: 'URL',
    help: 'NATS server(s), comma separated (nats:// or tls://). Required.',
  },
  { name: 'nats-creds', type: 'string', env: 'NATS_CREDS', valueName: 'FILE', help: 'NATS credentials (.creds) file.' },
  {
    name: 'nats-tls-ca',
    type: 'string',
    env: 'NATS_TLS_CA',
    valueName: 'FILE',
    help: 'CA certificate (PEM) that verifies the NATS server (tls:// URLs).',
  },
  {
    name: 'nats-tls-cert',
    type: 'string',
    env: 'NATS_TLS_CERT',
    valueName: 'FILE',
    help: 'Client certificate (PEM) for mutual TLS with NATS; needs --nats-tls-key.',
  },
  {
    name: 'nats-tls-key',
    type: 'string',
    env: 'NATS_TLS_KEY',
    valueName: 'FILE',
    secret: true,
    help: 'Client key (PEM) for mutual TLS with NATS.',
  },
  {
    name: 'bucket',
    type: 'string',
    default: 'pdrouter-snapshots',
    help: 'JetStream KV bucket holding one snapshot per pool.',
  },
  {
    name: 'debounce-ms',
    type: 'int',
    default: 250,
    min: 0,
    help: 'A burst of pod changes within this window becomes one snapshot.',
  },
  {
    name: 'heartbeat-secs',
    type: 'number',
    default: 10,
    min: 0.1,
    help: 'The leader republishes the current snapshot (next seq, same members) this often.',
  },
  // --- own endpoints ---
  {
    name: 'http-host',
    type: 'string',
    default: '0.0.0.0',
    help: 'Address of the /healthz, /readyz, /metrics and /state listener.',
  },
  { name: 'http-port', type: 'int', default: 9090, min: 0, help: 'Port of that listener; 0 picks a free port.' },
  {
    name: 'log-level',
    type: 'enum',
    choices: ['debug', 'info', 'warn', 'error'],
    default: 'info',
    env: 'PDROUTER_LOG_LEVEL',
    help: 'Log level (JSON lines on stdout).',
  },
  { name: 'help', type: 'bool', default: false, help: 'Print this help and exit.' },
] as const satisfies readonly FlagSpec[];
