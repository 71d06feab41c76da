// The proxy's command line, declared once: the parser, `--help` and the docs are all built from PROXY_FLAGS.
// vllm-router's flag names are kept as they are so an existing deployment's arguments run unchanged; flags
// that vllm-router has and we do not act on are accepted and reported at start-up (`honoured: false`).

export type FlagType = 'bool' | 'string' | 'int' | 'number' | 'enum' | 'list' | 'repeat' | 'prefill';
export type FlagValue = string | number | boolean | readonly string[] | readonly PrefillArg[] | undefined;

export interface PrefillArg {
  readonly url: string;
  readonly bootstrapPort?: number;
}

export interface FlagSpec {
  /** Long name without the leading `--`. */
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly type: FlagType;
  readonly choices?: readonly string[];
  readonly default?: string | number | boolean | readonly string[];
  /** Environment variable read when the flag is not given. */
  readonly env?: string;
  readonly help: string;
  /** false: accepted for vllm-router compatibility, not acted on (a warning at start-up when given). */
  readonly honoured: boolean;
  /** Where the flag comes from: vllm-router's CLI or ours. */
  readonly origin: 'vllm-router' | 'pdrouter';
  readonly valueName?: string;
  /** Never echoed back (logs, errors). */
  readonly secret?: boolean;
}

export const POLICIES = ['consistent_hash', 'bounded_load', 'round_robin', 'random', 'power_of_two'] as const;
/** vllm-router policies we accept but route with consistent_hash instead (reported at start-up). */
export const UNSUPPORTED_POLICIES = ['cache_aware', 'cache_aware_no_queue', 'sico_sticky'] as const;
const POLICY_CHOICES = [...POLICIES, ...UNSUPPORTED_POLICIES];

export const PROXY_FLAGS: readonly FlagSpec[] = [
  // --- vllm-router: modes and members ---
  {
    name: 'pd-disaggregation',
    type: 'bool',
    default: false,
    honoured: true,
    origin: 'vllm-router',
    help: 'Prefill/decode disaggregated mode: every request runs a prefill leg then a decode leg (vLLM NixlConnector protocol).',
  },
  {
    name: 'vllm-pd-disaggregation',
    type: 'bool',
    default: false,
    honoured: true,
    origin: 'vllm-router',
    help: 'Same as --pd-disaggregation (vLLM two-stage P/D).',
  },
  {
    name: 'prefill',
    type: 'prefill',
    honoured: true,
    origin: 'vllm-router',
    valueName: 'URL [BOOTSTRAP_PORT|none]',
    help: 'A prefill pod; repeat for each pod. An optional bootstrap port (or `none`) may follow the URL.',
  },
  {
    name: 'decode',
    type: 'repeat',
    honoured: true,
    origin: 'vllm-router',
    valueName: 'URL',
    help: 'A decode pod; repeat for each pod.',
  },
  {
    name: 'worker-urls',
    type: 'list',
    honoured: true,
    origin: 'vllm-router',
    valueName: 'URL...',
    help: 'Plain mode (no P/D): the worker pods, space separated.',
  },
  {
    name: 'policy',
    type: 'enum',
    choices: POLICY_CHOICES,
    default: 'consistent_hash',
    honoured: true,
    origin: 'vllm-router',
    help: 'Routing policy for both roles: consistent_hash, bounded_load (consistent hash capped at --bounded-load-factor x mean in-flight), round_robin, random, power_of_two. cache_aware/cache_aware_no_queue/sico_sticky are accepted and route as consistent_hash.',
  },
  {
    name: 'prefill-policy',
    type: 'enum',
    choices: POLICY_CHOICES,
    honoured: true,
    origin: 'vllm-router',
    help: 'Policy for prefill pods (overrides --policy).',
  },
  {
    name: 'decode-policy',
    type: 'enum',
    choices: POLICY_CHOICES,
    honoured: true,
    origin: 'vllm-router',
    help: 'Policy for decode pods (overrides --policy).',
  },
  {
    name: 'intra-node-data-parallel-size',
    type: 'int',
    default: 1,
    honoured: true,
    origin: 'vllm-router',
    help: 'Data-parallel ranks per pod URL: N > 1 makes each URL N ring members url@0..url@N-1 (as vllm-router), each request sent with X-data-parallel-rank.',
  },
  // --- vllm-router: listeners ---
  {
    name: 'host',
    type: 'string',
    default: '127.0.0.1',
    honoured: true,
    origin: 'vllm-router',
    help: 'Address the router listens on.',
  },
  {
    name: 'port',
    type: 'int',
    default: 30000,
    honoured: true,
    origin: 'vllm-router',
    help: 'Port the router listens on.',
  },
  {
    name: 'prometheus-host',
    type: 'string',
    default: '127.0.0.1',
    honoured: true,
    origin: 'vllm-router',
    help: 'Address of the metrics listener (GET /metrics).',
  },
  {
    name: 'prometheus-port',
    type: 'int',
    default: 29000,
    honoured: true,
    origin: 'vllm-router',
    help: 'Port of the metrics listener; 0 picks a free port.',
  },
  // --- vllm-router: limits and auth ---
  {
    name: 'request-timeout-secs',
    type: 'number',
    default: 1800,
    honoured: true,
    origin: 'vllm-router',
    help: 'Total time allowed for one request, both legs and the whole stream.',
  },
  {
    name: 'max-payload-size',
    type: 'int',
    default: 536870912,
    honoured: true,
    origin: 'vllm-router',
    valueName: 'BYTES',
    help: 'Largest request body accepted; larger bodies get 413.',
  },
  {
    name: 'api-key',
    type: 'string',
    env: 'OPENAI_API_KEY',
    honoured: true,
    origin: 'vllm-router',
    secret: true,
    help: "Key sent to the pods as `Authorization: Bearer KEY` (vllm-router reads OPENAI_API_KEY too). Without it the client's Authorization header is passed through (unless it is an ingress key).",
  },
  {
    name: 'log-level',
    type: 'enum',
    choices: ['debug', 'info', 'warn', 'error'],
    default: 'info',
    env: 'PDROUTER_LOG_LEVEL',
    honoured: true,
    origin: 'vllm-router',
    help: 'Log level (JSON lines on stdout).',
  },
  {
    name: 'retry-max-retries',
    type: 'int',
    default: 5,
    honoured: true,
    origin: 'vllm-router',
    help: 'Most pods tried after the first one fails, per leg (failover along the ring walk).',
  },
  {
    name: 'disable-retries',
    type: 'bool',
    default: false,
    honoured: true,
    origin: 'vllm-router',
    help: 'No failover: the first pod chosen is the only one tried.',
  },
  {
    name: 'disable-circuit-breaker',
    type: 'bool',
    default: false,
    honoured: true,
    origin: 'vllm-router',
    help: 'Turns passive health (ejection) off.',
  },
  {
    name: 'health-check-endpoint',
    type: 'string',
    default: '/health',
    honoured: true,
    origin: 'vllm-router',
    help: 'Path probed on an ejected pod before it is re-admitted.',
  },
  {
    name: 'health-check-timeout-secs',
    type: 'number',
    default: 5,
    honoured: true,
    origin: 'vllm-router',
    help: 'Timeout of one health probe.',
  },
  {
    name: 'max-concurrent-requests',
    type: 'int',
    default: 32768,
    honoured: true,
    origin: 'vllm-router',
    help: 'Most requests in flight at once (generation and forwarded routes); more wait in the queue (--queue-size), then get 429 with Retry-After.',
  },
  // --- vllm-router: accepted, not acted on ---
  {
    name: 'vllm-discovery-address',
    type: 'string',
    honoured: false,
    origin: 'vllm-router',
    help: 'P2P-NCCL ZMQ discovery address (not supported).',
  },
  {
    name: 'worker-startup-timeout-secs',
    type: 'int',
    default: 600,
    honoured: false,
    origin: 'vllm-router',
    help: 'Not used: pods are routed to as soon as they are members.',
  },
  {
    name: 'worker-startup-check-interval',
    type: 'int',
    default: 30,
    honoured: false,
    origin: 'vllm-router',
    help: 'Not used.',
  },
  {
    name: 'cache-threshold',
    type: 'number',
    default: 0.3,
    honoured: false,
    origin: 'vllm-router',
    help: 'cache_aware only (not supported).',
  },
  {
    name: 'balance-abs-threshold',
    type: 'int',
    default: 64,
    honoured: false,
    origin: 'vllm-router',
    help: 'cache_aware only (not supported).',
  },
  {
    name: 'balance-rel-threshold',
    type: 'number',
    default: 1.5,
    honoured: false,
    origin: 'vllm-router',
    help: 'cache_aware only (not supported).',
  },
  {
    name: 'eviction-interval',
    type: 'int',
    default: 120,
    honoured: false,
    origin: 'vllm-router',
    help: 'cache_aware only (not supported).',
  },
  {
    name: 'max-tree-size',
    type: 'int',
    default: 67108864,
    honoured: false,
    origin: 'vllm-router',
    help: 'cache_aware only (not supported).',
  },
  { name: 'dp-aware', type: 'bool', default: false, honoured: false, origin: 'vllm-router', help: 'Not supported.' },
  {
    name: 'api-key-validation-urls',
    type: 'list',
    honoured: false,
    origin: 'vllm-router',
    help: 'Not supported; see --ingress-api-key.',
  },
  {
    name: 'backend',
    aliases: ['runtime'],
    type: 'enum',
    choices: ['vllm', 'trtllm', 'openai', 'anthropic'],
    default: 'vllm',
    honoured: false,
    origin: 'vllm-router',
    help: 'Only vllm is supported.',
  },
  {
    name: 'log-dir',
    type: 'string',
    honoured: false,
    origin: 'vllm-router',
    help: 'Not supported: logs go to stdout.',
  },
  {
    name: 'enable-trace',
    type: 'bool',
    default: false,
    honoured: false,
    origin: 'vllm-router',
    help: 'OpenTelemetry tracing (not supported).',
  },
  { name: 'otlp-traces-endpoint', type: 'string', honoured: false, origin: 'vllm-router', help: 'Not supported.' },
  {
    name: 'otel-sampling-ratio',
    type: 'number',
    default: 1,
    honoured: false,
    origin: 'vllm-router',
    help: 'Not supported.',
  },
  { name: 'otel-excluded-paths', type: 'list', honoured: false, origin: 'vllm-router', help: 'Not supported.' },
  {
    name: 'service-discovery',
    type: 'bool',
    default: false,
    honoured: false,
    origin: 'vllm-router',
    help: 'Use apps/discovery with --nats-url instead.',
  },
  { name: 'selector', type: 'list', honoured: false, origin: 'vllm-router', help: 'Use apps/discovery instead.' },
  {
    name: 'service-discovery-port',
    type: 'int',
    default: 80,
    honoured: false,
    origin: 'vllm-router',
    help: 'Use apps/discovery instead.',
  },
  {
    name: 'service-discovery-namespace',
    type: 'string',
    honoured: false,
    origin: 'vllm-router',
    help: 'Use apps/discovery instead.',
  },
  {
    name: 'prefill-selector',
    type: 'list',
    honoured: false,
    origin: 'vllm-router',
    help: 'Use apps/discovery instead.',
  },
  {
    name: 'decode-selector',
    type: 'list',
    honoured: false,
    origin: 'vllm-router',
    help: 'Use apps/discovery instead.',
  },
  {
    name: 'request-id-headers',
    type: 'list',
    honoured: false,
    origin: 'vllm-router',
    help: 'Not supported: each request gets a fresh X-Request-Id.',
  },
  { name: 'cors-allowed-origins', type: 'list', honoured: false, origin: 'vllm-router', help: 'Not supported.' },
  {
    name: 'retry-initial-backoff-ms',
    type: 'int',
    default: 50,
    honoured: false,
    origin: 'vllm-router',
    help: 'Failover is immediate (the next pod on the ring).',
  },
  {
    name: 'retry-max-backoff-ms',
    type: 'int',
    default: 30000,
    honoured: false,
    origin: 'vllm-router',
    help: 'Not used.',
  },
  {
    name: 'retry-backoff-multiplier',
    type: 'number',
    default: 1.5,
    honoured: false,
    origin: 'vllm-router',
    help: 'Not used.',
  },
  {
    name: 'retry-jitter-factor',
    type: 'number',
    default: 0.2,
    honoured: false,
    origin: 'vllm-router',
    help: 'Not used.',
  },
  {
    name: 'cb-failure-threshold',
    type: 'int',
    default: 10,
    honoured: false,
    origin: 'vllm-router',
    help: 'See --eject-after-failures.',
  },
  {
    name: 'cb-success-threshold',
    type: 'int',
    default: 3,
    honoured: false,
    origin: 'vllm-router',
    help: 'Not used: one successful probe re-admits.',
  },
  {
    name: 'cb-timeout-duration-secs',
    type: 'int',
    default: 60,
    honoured: false,
    origin: 'vllm-router',
    help: 'See --eject-probe-base-ms.',
  },
  {
    name: 'cb-window-duration-secs',
    type: 'int',
    default: 120,
    honoured: false,
    origin: 'vllm-router',
    help: 'Not used.',
  },
  {
    name: 'health-failure-threshold',
    type: 'int',
    default: 3,
    honoured: false,
    origin: 'vllm-router',
    help: 'Not used: health is passive (see --eject-after-failures).',
  },
  {
    name: 'health-success-threshold',
    type: 'int',
    default: 2,
    honoured: false,
    origin: 'vllm-router',
    help: 'Not used.',
  },
  {
    name: 'health-check-interval-secs',
    type: 'int',
    default: 60,
    honoured: false,
    origin: 'vllm-router',
    help: 'Not used: only ejected pods are probed.',
  },
  { name: 'enable-igw', type: 'bool', default: false, honoured: false, origin: 'vllm-router', help: 'Not supported.' },
  {
    name: 'model-path',
    type: 'string',
    honoured: false,
    origin: 'vllm-router',
    help: 'Not used (no tokenizer in the router).',
  },
  { name: 'tokenizer-path', type: 'string', honoured: false, origin: 'vllm-router', help: 'Not used.' },
  {
    name: 'history-backend',
    type: 'enum',
    choices: ['memory', 'none'],
    default: 'memory',
    honoured: false,
    origin: 'vllm-router',
    help: 'Not used.',
  },
  { name: 'profile', type: 'bool', default: false, honoured: false, origin: 'vllm-router', help: 'Not supported.' },
  // --- pdrouter ---
  {
    name: 'queue-size',
    type: 'int',
    default: 100,
    honoured: true,
    origin: 'pdrouter',
    help: "Requests over --max-concurrent-requests or the rate limit that may wait, first in first out (vllm-router's fixed queue_size); beyond it 429 with Retry-After. 0: refuse at once.",
  },
  {
    name: 'queue-timeout-secs',
    type: 'number',
    default: 60,
    honoured: true,
    origin: 'pdrouter',
    help: "Longest wait in the queue (vllm-router's fixed queue_timeout_secs), then 429 with Retry-After.",
  },
  {
    name: 'rate-limit-tokens-per-second',
    type: 'number',
    honoured: true,
    origin: 'pdrouter',
    help: 'Requests admitted per second, a token bucket holding one second of tokens (unset: no rate limit); requests over it wait in the queue.',
  },
  {
    name: 'hash-key-mode',
    type: 'enum',
    choices: ['vllm-router', 'affinity'],
    default: 'vllm-router',
    env: 'PDROUTER_HASH_KEY_MODE',
    honoured: true,
    origin: 'pdrouter',
    help: "What the ring hashes. vllm-router: the key vllm-router computes for the same request and mode (--pd-disaggregation: the prompt text only, no headers; --vllm-pd-disaggregation and plain mode: session/user/request-id headers first), so the same pods as vllm-router; chat requests without session_params.session_id are keyed by their conversation start instead of vllm-router's single empty key. affinity: skips per-request ids (x-request-id, x-trace-id) and keys on the session or the conversation start / prompt prefix, so caches stay warm under clients that send a fresh request id each time (recommended once switched).",
  },
  {
    name: 'hash-prefix-bytes',
    type: 'int',
    honoured: true,
    origin: 'pdrouter',
    valueName: 'BYTES',
    help: "affinity mode: how many leading bytes of the prompt form the key (core's default when unset).",
  },
  {
    name: 'virtual-nodes',
    type: 'int',
    default: 160,
    honoured: true,
    origin: 'pdrouter',
    help: 'Virtual nodes per pod on the ring (vllm-router uses 160; change it only fleet-wide).',
  },
  {
    name: 'bounded-load-factor',
    type: 'number',
    default: 1.25,
    honoured: true,
    origin: 'pdrouter',
    help: "bounded_load policy: no pod takes more than ceil(factor x (total+1) / pods) of the router's in-flight requests.",
  },
  {
    name: 'connect-timeout-ms',
    type: 'int',
    default: 3000,
    honoured: true,
    origin: 'pdrouter',
    help: 'TCP connect timeout to a pod.',
  },
  {
    name: 'first-byte-timeout-ms',
    type: 'int',
    default: 120000,
    honoured: true,
    origin: 'pdrouter',
    help: "Time from sending a leg to the pod's response headers: prefill legs and streaming decode/plain legs. Non-streaming answers (headers only at the end) wait up to --request-timeout-secs instead.",
  },
  {
    name: 'idle-timeout-ms',
    type: 'int',
    default: 60000,
    honoured: true,
    origin: 'pdrouter',
    help: 'Longest silence allowed between two chunks of a response body.',
  },
  {
    name: 'client-body-timeout-ms',
    type: 'int',
    default: 30000,
    honoured: true,
    origin: 'pdrouter',
    help: "Time allowed to receive a client's whole request body once its headers arrived; a client that stalls longer gets 408 and its connection is closed.",
  },
  {
    name: 'keep-alive-timeout-ms',
    type: 'int',
    default: 60000,
    honoured: true,
    origin: 'pdrouter',
    help: 'How long an idle pooled connection to a pod is kept.',
  },
  {
    name: 'connections-per-pod',
    type: 'int',
    default: 0,
    honoured: true,
    origin: 'pdrouter',
    help: 'Most connections to one pod (0 = unlimited).',
  },
  {
    name: 'eject-after-failures',
    type: 'int',
    default: 3,
    honoured: true,
    origin: 'pdrouter',
    help: 'Consecutive connection failures / 5xx / timeouts after which a pod leaves the failover walk until a health probe succeeds.',
  },
  {
    name: 'eject-probe-base-ms',
    type: 'int',
    default: 1000,
    honoured: true,
    origin: 'pdrouter',
    help: 'First health probe delay after an ejection; doubles per failed probe.',
  },
  {
    name: 'eject-probe-max-ms',
    type: 'int',
    default: 30000,
    honoured: true,
    origin: 'pdrouter',
    help: 'Largest delay between health probes of an ejected pod.',
  },
  {
    name: 'decode-only-fallback',
    type: 'bool',
    default: false,
    honoured: true,
    origin: 'pdrouter',
    help: 'When every prefill pod fails, send the request to a decode pod without kv params (it prefills locally) instead of answering 502/503. Counted in pdrouter_decode_only_fallbacks_total.',
  },
  {
    name: 'drain-timeout-secs',
    type: 'number',
    default: 30,
    honoured: true,
    origin: 'pdrouter',
    help: 'On SIGTERM: how long in-flight requests may finish before the process exits.',
  },
  {
    name: 'models-cache-ms',
    type: 'int',
    default: 5000,
    honoured: true,
    origin: 'pdrouter',
    help: 'How long a /v1/models answer from a pod is reused.',
  },
  {
    name: 'snapshot-file',
    type: 'string',
    honoured: true,
    origin: 'pdrouter',
    valueName: 'FILE',
    help: "Members from a snapshot JSON file (core's schema), re-read when it changes. Replaces --prefill/--decode/--worker-urls.",
  },
  {
    name: 'nats-url',
    type: 'string',
    env: 'PDROUTER_NATS_URL',
    honoured: true,
    origin: 'pdrouter',
    valueName: 'URL',
    help: 'Distributed mode: members from the discovery snapshots in NATS.',
  },
  {
    name: 'nats-creds',
    type: 'string',
    env: 'PDROUTER_NATS_CREDS',
    honoured: true,
    origin: 'pdrouter',
    valueName: 'FILE',
    help: 'NATS credentials file.',
  },
  {
    name: 'bucket',
    type: 'string',
    default: 'pdrouter-snapshots',
    env: 'PDROUTER_NATS_BUCKET',
    honoured: true,
    origin: 'pdrouter',
    help: "JetStream KV bucket the snapshots are read from (the same as discovery's --bucket).",
  },
  {
    name: 'nats-tls-ca',
    type: 'string',
    env: 'PDROUTER_NATS_TLS_CA',
    honoured: true,
    origin: 'pdrouter',
    valueName: 'FILE',
    help: 'CA certificate (PEM) that verifies the NATS server (tls:// URLs).',
  },
  {
    name: 'nats-tls-cert',
    type: 'string',
    env: 'PDROUTER_NATS_TLS_CERT',
    honoured: true,
    origin: 'pdrouter',
    valueName: 'FILE',
    help: 'Client certificate (PEM) for mutual TLS with NATS; needs --nats-tls-key.',
  },
  {
    name: 'nats-tls-key',
    type: 'string',
    env: 'PDROUTER_NATS_TLS_KEY',
    honoured: true,
    origin: 'pdrouter',
    valueName: 'FILE',
    help: 'Client key (PEM) for mutual TLS with NATS.',
  },
  {
    name: 'pool',
    type: 'string',
    default: 'default',
    env: 'PDROUTER_POOL',
    honoured: true,
    origin: 'pdrouter',
    help: 'Pool name (snapshot key in NATS, label in snapshots).',
  },
  {
    name: 'ingress-api-key',
    type: 'repeat',
    env: 'PDROUTER_INGRESS_API_KEYS',
    honoured: true,
    origin: 'pdrouter',
    secret: true,
    valueName: 'KEY',
    help: 'Require `Authorization: Bearer KEY` from clients; repeat for several keys (the env var takes a comma-separated list). Also protects /admin/*.',
  },
  {
    name: 'ingress-api-key-file',
    type: 'string',
    env: 'PDROUTER_INGRESS_API_KEY_FILE',
    honoured: true,
    origin: 'pdrouter',
    valueName: 'FILE',
    help: 'File with ingress keys, one per line (# comments).',
  },
  {
    name: 'help',
    aliases: ['h'],
    type: 'bool',
    default: false,
    honoured: true,
    origin: 'pdrouter',
    help: 'Print this help and exit.',
  },
];

export interface ParsedFlags {
  readonly values: Readonly<Record<string, FlagValue>>;
  /** Names of the flags given on the command line or through their env var. */
  readonly given: ReadonlySet<string>;
  /** Accepted-but-not-honoured flags that were given. */
  readonly notHonoured: readonly string[];
}

export class FlagError extends Error {
  override readonly name = 'FlagError';
}

const byName = new Map<string, FlagSpec>();
for (const spec of PROXY_FLAGS) {
  byName.set(spec.name, spec);
  for (const alias of spec.aliases ?? []) byName.set(alias, spec);
}

const isFlagToken = (s: string | undefined): boolean => s !== undefined && /^--?[a-zA-Z]/.test(s);

function convert(spec: FlagSpec, raw: string): string | number | boolean {
  const shown = spec.secret ? '(hidden)' : JSON.stringify(raw);
  switch (spec.type) {
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw new FlagError(`--${spec.name} expects an integer, got ${shown}`);
      return Number(raw);
    }
    case 'number': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n))
        throw new FlagError(`--${spec.name} expects a number, got ${shown}`);
      return n;
    }
    case 'bool': {
      if (/^(true|1|yes)$/i.test(raw)) return true;
      if (/^(false|0|no)$/i.test(raw)) return false;
      throw new FlagError(`--${spec.name} expects true or false, got ${shown}`);
    }
    case 'enum': {
      if (!spec.choices?.includes(raw)) {
        throw new FlagError(`--${spec.name} must be one of ${spec.choices?.join(', ')}; got ${shown}`);
      }
      return raw;
    }
    default:
      return raw;
  }
}

function parsePort(raw: string): number | undefined {
  if (!/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n > 0 && n < 65536 ? n : undefined;
}

/** Parses argv (without node and script) and the environment. Throws FlagError with a message for the user. */
export function parseFlags(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ParsedFlags {
  const values: Record<string, FlagValue> = {};
  const given = new Set<string>();
  const push = (name: string, item: string | PrefillArg) => {
    const list = (values[name] as (string | PrefillArg)[] | undefined) ?? [];
    list.push(item);
    values[name] = list as readonly string[];
  };
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (!isFlagToken(token)) {
      throw new FlagError(`unexpected argument ${JSON.stringify(token)} (flags start with --; see --help)`);
    }
    const eq = token.indexOf('=');
    const key = token.replace(/^--?/, '').slice(0, eq === -1 ? undefined : eq - (token.startsWith('--') ? 2 : 1));
    const inline = eq === -1 ? undefined : token.slice(eq + 1);
    const spec = byName.get(key);
    if (!spec) throw new FlagError(`unknown flag --${key} (see --help for the list of flags)`);
    given.add(spec.name);
    const next = argv[i + 1];
    switch (spec.type) {
      case 'bool': {
        values[spec.name] = inline === undefined ? true : convert(spec, inline);
        break;
      }
      case 'list': {
        const items = inline !== undefined ? inline.split(',').filter(Boolean) : [];
        while (inline === undefined && argv[i + 1] !== undefined && !isFlagToken(argv[i + 1])) {
          items.push(argv[++i] as string);
        }
        for (const item of items) push(spec.name, item);
        if (values[spec.name] === undefined) values[spec.name] = [];
        break;
      }
      case 'prefill': {
        const url = inline ?? next;
        if (url === undefined || (inline === undefined && isFlagToken(url))) {
          throw new FlagError(`--${spec.name} expects a URL, optionally followed by a bootstrap port or "none"`);
        }
        if (inline === undefined) i++;
        const after = argv[i + 1];
        let bootstrapPort: number | undefined;
        if (after !== undefined && !isFlagToken(after)) {
          if (after.toLowerCase() === 'none') i++;
          else {
            bootstrapPort = parsePort(after);
            if (bootstrapPort === undefined) {
              throw new FlagError(
                `--prefill ${url}: expected a bootstrap port (1-65535) or "none" after the URL, got ${JSON.stringify(after)}`,
              );
            }
            i++;
          }
        }
        push(spec.name, bootstrapPort === undefined ? { url } : { url, bootstrapPort });
        break;
      }
      default: {
        const raw = inline ?? next;
        if (
          raw === undefined ||
          (inline === undefined && isFlagToken(raw) && spec.type !== 'number' && spec.type !== 'int')
        ) {
          throw new FlagError(`--${spec.name} expects a value${spec.valueName ? ` (${spec.valueName})` : ''}`);
        }
        if (inline === undefined) i++;
        if (spec.type === 'repeat') push(spec.name, raw);
        else values[spec.name] = convert(spec, raw);
      }
    }
  }
  for (const spec of PROXY_FLAGS) {
    if (given.has(spec.name) || !spec.env) continue;
    const raw = env[spec.env];
    if (raw === undefined || raw === '') continue;
    given.add(spec.name);
    if (spec.type === 'repeat' || spec.type === 'list') {
      values[spec.name] = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    } else {
      try {
        values[spec.name] = convert(spec, raw);
      } catch (err) {
        throw new FlagError(`${spec.env}: ${(err as Error).message}`);
      }
    }
  }
  for (const spec of PROXY_FLAGS) {
    if (values[spec.name] === undefined && spec.default !== undefined) values[spec.name] = spec.default;
  }
  const notHonoured = PROXY_FLAGS.filter((s) => !s.honoured && given.has(s.name)).map((s) => s.name);
  return { values, given, notHonoured };
}

function usageOf(spec: FlagSpec): string {
  const names = [`--${spec.name}`, ...(spec.aliases ?? []).map((a) => (a.length === 1 ? `-${a}` : `--${a}`))].join(
    ', ',
  );
  if (spec.type === 'bool') return names;
  const value = spec.valueName ?? (spec.type === 'enum' ? (spec.choices ?? []).join('|') : spec.type.toUpperCase());
  return `${names} ${value}`;
}

export function defaultText(spec: FlagSpec): string {
  if (spec.default === undefined || spec.type === 'bool') return '';
  return Array.isArray(spec.default) ? spec.default.join(' ') : String(spec.default);
}

/** `--help`, built from PROXY_FLAGS. */
export function helpText(): string {
  const lines = [
    'pdrouter proxy: routes OpenAI-compatible requests to vLLM prefill/decode pods on a consistent-hash ring.',
    '',
    'Usage:',
    '  node apps/proxy/src/main.ts --pd-disaggregation --prefill URL [PORT|none] ... --decode URL ... [flags]',
    '  node apps/proxy/src/main.ts --worker-urls URL... [flags]',
    '  node apps/proxy/src/main.ts --pd-disaggregation --snapshot-file FILE [flags]',
    '',
  ];
  const section = (title: string, specs: readonly FlagSpec[]) => {
    lines.push(title);
    for (const spec of specs) {
      const extras = [defaultText(spec) && `default ${defaultText(spec)}`, spec.env && `env ${spec.env}`].filter(
        Boolean,
      );
      lines.push(`  ${usageOf(spec)}`);
      lines.push(`      ${spec.help}${extras.length ? ` [${extras.join('; ')}]` : ''}`);
    }
    lines.push('');
  };
  section(
    'Flags (vllm-router compatible):',
    PROXY_FLAGS.filter((s) => s.origin === 'vllm-router' && s.honoured),
  );
  section(
    'Flags (pdrouter):',
    PROXY_FLAGS.filter((s) => s.origin === 'pdrouter'),
  );
  section(
    'Accepted for vllm-router compatibility, not acted on (reported at start-up):',
    PROXY_FLAGS.filter((s) => !s.honoured),
  );
  return lines.join('\n');
}
