// vllm-router's flags that the proxy shares: names, grammar and defaults as vllm-router has them, so an existing
// deployment's arguments run unchanged. The retry, circuit-breaker and health flags are in vllm-router-resilience.ts.
// How to change a flag's status (one line): leave `status` out for a flag that does what vllm-router's does;
// `status: { refused: 'why' }` makes giving it a usage error (exit 2) that names it and says why. No flag or
// value is accepted and left without effect.
import type { FlagSpec } from '@pdrouter/cli';

export const POLICIES = [
  'consistent_hash',
  'bounded_load',
  'rendezvous_hash',
  'round_robin',
  'random',
  'power_of_two',
  'cache_aware',
  // Ours (vllm-router has no such policy): docs/design.md §3.6.
  'load_aware',
] as const;
/**
 * vllm-router policy names pdrouter does not implement, with the reason: `--policy`, `--prefill-policy` and
 * `--decode-policy` refuse them at start-up (exit 2) with that reason. Each is a table kept in one router's
 * memory or needs inputs the proxy does not read; the reasons name what to use instead.
 */
export const REFUSED_POLICIES = {
  cache_aware_no_queue:
    "vllm-router's cache_aware_no_queue sends a request only to a pod with nothing running or waiting and answers 503 at once when no pod is idle (one request per pod, judged by each router alone); pdrouter does not refuse work by pod idleness: use --policy cache_aware (or load_aware) and bound the load with --max-concurrent-requests and --queue-size (429 with Retry-After)",
  sico_sticky:
    "vllm-router's sico_sticky pins each session to a pod in a table held in one router's memory (moved only when that pod is 80 load points worse than the best, at most once per 10 minutes across all sessions), which pdrouter replicas do not share and a restart loses: use --hash-key-mode affinity (a session keeps its ring owner on every replica) with consistent_hash or bounded_load",
  sticky_least_loaded:
    "vllm-router's sticky_least_loaded pins each session to the pod with the fewest sessions in a table held in one router's memory, released by POST /finish_session or a 2-hour expiry, which pdrouter replicas do not share: use --hash-key-mode affinity with consistent_hash or bounded_load",
  kv_aware:
    "vllm-router's kv_aware tokenizes the prompt and follows the pods' KV-cache block events; pdrouter reads neither a tokenizer nor KV events: use cache_aware (the router's own prefix index) or load_aware",
  precise_cache_aware:
    "vllm-router's precise_cache_aware tokenizes the prompt and follows the pods' KV-cache block events; pdrouter reads neither a tokenizer nor KV events: use cache_aware (the router's own prefix index) or load_aware",
  ttft_aware:
    "vllm-router's ttft_aware estimates time to first token from fixed per-token and per-request constants; pdrouter does not: use load_aware, which weighs the pods' own running and waiting gauges",
} as const satisfies Readonly<Record<string, string>>;

export const VLLM_ROUTER_FLAGS = [
  {
    name: 'pd-disaggregation',
    type: 'bool',
    default: false,
    help: 'Prefill/decode disaggregated mode: every request runs a prefill leg then a decode leg (vLLM NixlConnector protocol).',
  },
  {
    name: 'vllm-pd-disaggregation',
    type: 'bool',
    default: false,
    help: 'Same as --pd-disaggregation (vLLM two-stage P/D).',
  },
  {
    name: 'prefill',
    type: 'url-port',
    valueName: 'URL [BOOTSTRAP_PORT|none]',
    help: 'A prefill pod; repeat for each pod. An optional bootstrap port (or `none`) may follow the URL.',
  },
  {
    name: 'decode',
    type: 'repeat',
    valueName: 'URL',
    help: 'A decode pod; repeat for each pod.',
  },
  {
    name: 'worker-urls',
    type: 'list',
    valueName: 'URL...',
    help: 'Plain mode (no P/D): the worker pods, space separated.',
  },
  {
    name: 'policy',
    type: 'enum',
    choices: POLICIES,
    refusedChoices: REFUSED_POLICIES,
    default: 'consistent_hash',
    help: "Routing policy for both roles: consistent_hash, bounded_load (consistent hash capped at --bounded-load-factor x mean in-flight), rendezvous_hash (highest fbiHash(key:pod) wins, as vllm-router), round_robin, random, power_of_two, cache_aware (vllm-router's: the pod holding the longest prefix of the request when it covers more than --cache-threshold, the least loaded pod when the fleet is imbalanced, else, for a cold prefix, the least loaded pod, equal loads going to the ring owner of the text's first block), load_aware (pdrouter's: the highest weighted sum of prefix match, load and ring ownership, --load-aware-*-weight). vllm-router's cache_aware_no_queue, sico_sticky, sticky_least_loaded, kv_aware, precise_cache_aware and ttft_aware are refused at start-up (exit 2) with the reason.",
  },
  {
    name: 'prefill-policy',
    type: 'enum',
    choices: POLICIES,
    refusedChoices: REFUSED_POLICIES,
    help: 'Policy for prefill pods (overrides --policy).',
  },
  {
    name: 'decode-policy',
    type: 'enum',
    choices: POLICIES,
    refusedChoices: REFUSED_POLICIES,
    help: 'Policy for decode pods (overrides --policy).',
  },
  {
    name: 'intra-node-data-parallel-size',
    type: 'int',
    default: 1,
    help: 'Data-parallel ranks per pod URL: N > 1 makes each URL N ring members url@0..url@N-1 (as vllm-router), each request sent with X-data-parallel-rank.',
  },
  {
    name: 'host',
    type: 'string',
    default: '127.0.0.1',
    help: 'Address the router listens on.',
  },
  {
    name: 'port',
    type: 'int',
    default: 30000,
    help: 'Port the router listens on.',
  },
  {
    name: 'prometheus-host',
    type: 'string',
    default: '127.0.0.1',
    help: 'Address of the metrics listener (GET /metrics).',
  },
  {
    name: 'prometheus-port',
    type: 'int',
    default: 29000,
    help: 'Port of the metrics listener; 0 picks a free port.',
  },
  {
    name: 'request-timeout-secs',
    type: 'number',
    default: 1800,
    help: 'Total time allowed for one request, both legs and the whole stream.',
  },
  {
    name: 'max-payload-size',
    type: 'int',
    default: 8388608,
    valueName: 'BYTES',
    help: 'Largest request body accepted; larger bodies get 413. The default 8 MiB holds a 128k-token prompt with room to spare (131,072 tokens x ~4 characters x 6 bytes for a \\uXXXX-escaped character = 3 MiB); raise it for inline images.',
  },
  {
    name: 'api-key',
    type: 'string',
    env: 'OPENAI_API_KEY',
    secret: true,
    help: "Key sent to the pods as `Authorization: Bearer KEY` (vllm-router reads OPENAI_API_KEY too). Without it the client's Authorization header is passed through (unless it is an ingress key).",
  },
  {
    name: 'log-level',
    type: 'enum',
    choices: ['debug', 'info', 'warn', 'error'],
    default: 'info',
    env: 'PDROUTER_LOG_LEVEL',
    help: 'Log level (JSON lines on stdout).',
  },
  {
    name: 'max-concurrent-requests',
    type: 'int',
    default: 32768,
    help: 'Most requests in flight at once (generation and forwarded routes); more wait in the queue (--queue-size), then get 429 with Retry-After.',
  },
  {
    name: 'vllm-discovery-address',
    type: 'string',
    status: {
      refused: 'pods do not register with the proxy over ZMQ; give --prefill/--decode, --snapshot-file or --nats-url',
    },
    help: 'Pods do not register with the proxy over ZMQ; give --prefill/--decode, --snapshot-file or --nats-url.',
  },
  {
    name: 'cache-threshold',
    type: 'number',
    default: 0.3,
    help: "cache_aware: a prefix match wins only when it covers more than this share (0-1) of the request's routing text (vllm-router's rule, match > threshold); otherwise the prefix is cold and the least loaded pod is taken (fleet-wide load in distributed mode), equal loads going to the earliest pod of the ring walk from the text's first block, so requests starting alike (a shared system prompt) pick alike on every replica.",
  },
  {
    name: 'balance-abs-threshold',
    type: 'int',
    default: 64,
    help: "cache_aware: the fleet is imbalanced when the busiest minus the idlest pod queue (in-flight legs, or the pod's own running + waiting when higher) exceeds this and --balance-rel-threshold holds too; then the least loaded pod is taken.",
  },
  {
    name: 'balance-rel-threshold',
    type: 'number',
    default: 1.5,
    help: 'cache_aware: imbalanced also needs the busiest queue above this times the idlest.',
  },
  {
    name: 'eviction-interval',
    type: 'int',
    default: 120,
    help: 'cache_aware and load_aware: seconds between sweeps of the prefix index: an index over --max-tree-size drops its least recently used generation (0: no sweep; the index still never exceeds twice its budget).',
  },
  {
    name: 'max-tree-size',
    type: 'int',
    default: 67108864,
    help: "cache_aware and load_aware: the prefix index's budget per role, in characters of routing text summed over pods (a prefix two pods served counts twice), counted in 128-character blocks; at most budget/128 entries per generation (~48 bytes each). vllm-router bounds each pod's tree by this instead.",
  },
  {
    name: 'dp-aware',
    type: 'bool',
    default: false,
    status: {
      refused:
        "vllm-router's --dp-aware reads each worker's data-parallel size from GET /get_server_info (dp_size), an SGLang route vLLM does not serve, so it cannot start against vLLM pods (later vllm-router releases dropped the flag); give --intra-node-data-parallel-size N instead: each pod becomes N ring members url@0..url@N-1 and each leg carries X-data-parallel-rank, as vllm-router does",
    },
    help: "vllm-router's --dp-aware reads each worker's data-parallel size from GET /get_server_info (dp_size), an SGLang route vLLM does not serve, so it cannot start against vLLM pods (later vllm-router releases dropped the flag); give --intra-node-data-parallel-size N instead: each pod becomes N ring members url@0..url@N-1 and each leg carries X-data-parallel-rank, as vllm-router does.",
  },
  {
    name: 'api-key-validation-urls',
    type: 'list',
    env: 'API_KEY_VALIDATION_URLS',
    valueName: 'URL...',
    help: 'Clients must send `Authorization: Bearer KEY`; a key is valid when one of these URLs answers 200 to a GET carrying it. Answers are cached for --api-key-validation-cache-secs. Guards /v1/* and /admin/*, not the health probes.',
  },
  {
    name: 'backend',
    aliases: ['runtime'],
    type: 'enum',
    choices: ['vllm'],
    refusedChoices: {
      trtllm: 'pdrouter routes to vLLM pods only (--backend vllm)',
      openai: 'pdrouter routes to vLLM pods only (--backend vllm)',
      anthropic: 'pdrouter routes to vLLM pods only (--backend vllm)',
    },
    default: 'vllm',
    help: "Only vllm: vllm-router's trtllm, openai and anthropic stop the proxy at start-up (exit 2).",
  },
  {
    name: 'log-dir',
    type: 'string',
    valueName: 'DIR',
    help: "Also write the log lines (the same JSON lines as stdout) to DIR/pdrouter.YYYY-MM-DD, a new file each UTC day as vllm-router's daily rotation (its files are vllm-router.YYYY-MM-DD); the directory is created; old files are kept.",
  },
  {
    name: 'enable-trace',
    type: 'bool',
    default: false,
    help: "OpenTelemetry tracing: a span per generation request (continuing the client's W3C traceparent) with a child span per leg (role, pod, attempt, status, kv transfer params), the leg's traceparent sent to the pod; exported over OTLP/HTTP.",
  },
  {
    name: 'otlp-traces-endpoint',
    type: 'string',
    valueName: 'HOST:PORT|URL',
    help: "The collector's OTLP/HTTP address (vllm-router's is OTLP/gRPC: point this at the collector's HTTP port, 4318 by convention); /v1/traces is appended when no path is given. Unset: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT.",
  },
  {
    name: 'otel-sampling-ratio',
    type: 'number',
    default: 1,
    help: 'Fraction of new traces sampled (0-1), parent-based: a trace the client sampled is always continued.',
  },
  {
    name: 'otel-excluded-paths',
    type: 'list',
    valueName: 'PATH...',
    help: 'Routes traced without spans (exact paths, e.g. /v1/completions).',
  },
  {
    name: 'service-discovery',
    type: 'bool',
    default: false,
    help: "Watch Kubernetes pods and route to the Running, Ready ones matching the selectors (one proxy replica, no NATS; several replicas: run apps/discovery). P/D mode takes --prefill-selector and --decode-selector, plain mode --selector. Credentials: $KUBECONFIG, ~/.kube/config, else the pod's service account (list and watch on pods).",
  },
  {
    name: 'selector',
    type: 'list',
    valueName: 'KEY=VALUE...',
    help: 'Plain mode with --service-discovery: labels a worker pod carries (all of them), e.g. `app=vllm role=worker`.',
  },
  {
    name: 'service-discovery-port',
    type: 'int',
    default: 80,
    help: "Port of vLLM's HTTP server in discovered pods; a pod's vllm.ai/port annotation overrides it (pdrouter addition).",
  },
  {
    name: 'service-discovery-namespace',
    type: 'string',
    help: 'Namespace watched for pods; unset: every namespace, as vllm-router (needs a ClusterRole).',
  },
  {
    name: 'prefill-selector',
    type: 'list',
    valueName: 'KEY=VALUE...',
    help: 'P/D mode with --service-discovery: labels of prefill pods; their vllm.ai/bootstrap-port annotation is the KV bootstrap port. A pod matching both selectors is a prefill pod, as in vllm-router.',
  },
  {
    name: 'decode-selector',
    type: 'list',
    valueName: 'KEY=VALUE...',
    help: 'P/D mode with --service-discovery: labels of decode pods.',
  },
  {
    name: 'request-id-headers',
    type: 'list',
    valueName: 'HEADER...',
    help: "Headers the client's request id is taken from, first found wins (default x-request-id x-correlation-id x-trace-id request-id); it is echoed as X-Request-Id. Both legs carry it with a unique suffix, so vLLM matches them and reused ids never collide.",
  },
  {
    name: 'cors-allowed-origins',
    type: 'list',
    valueName: 'ORIGIN...',
    help: 'Origins browsers may call from (`*` for any): CORS headers and preflight answers (GET, POST; Content-Type, Authorization; X-Request-Id readable; max-age 3600 s). Unset: no CORS headers (vllm-router allows every origin then).',
  },
  {
    name: 'enable-igw',
    type: 'bool',
    default: false,
    status: {
      refused: 'one pdrouter pool serves one model (no Inference Gateway mode with several models behind one router)',
    },
    help: 'One pdrouter pool serves one model (no Inference Gateway mode with several models behind one router).',
  },
  {
    name: 'model-path',
    type: 'string',
    status: { refused: 'no pdrouter policy tokenizes the prompt, so there is no model to load' },
    help: 'No pdrouter policy tokenizes the prompt, so there is no model to load.',
  },
  {
    name: 'tokenizer-path',
    type: 'string',
    status: { refused: 'no pdrouter policy tokenizes the prompt, so there is no tokenizer to load' },
    help: 'No pdrouter policy tokenizes the prompt, so there is no tokenizer to load.',
  },
  {
    name: 'history-backend',
    type: 'enum',
    choices: ['memory', 'none'],
    default: 'memory',
    status: {
      refused: 'the router keeps no /v1/responses history: requests go to the vLLM pods, which keep their own',
    },
    help: 'The router keeps no /v1/responses history: requests go to the vLLM pods, which keep their own.',
  },
  {
    name: 'kv-connector',
    type: 'enum',
    choices: ['nixl'],
    refusedChoices: {
      mooncake: "pdrouter speaks vLLM's NixlConnector protocol only (--kv-connector nixl)",
      moriio: "pdrouter speaks vLLM's NixlConnector protocol only (--kv-connector nixl)",
    },
    default: 'nixl',
    help: "The P/D KV transfer protocol: nixl (vLLM's NixlConnector: kv_transfer_params from the prefill answer to the decode leg). vllm-router's mooncake and moriio stop the proxy at start-up (exit 2).",
  },
  {
    name: 'profile',
    type: 'bool',
    default: false,
    status: { refused: "the proxy does not call the pods' /start_profile and /stop_profile around requests" },
    help: "The proxy does not call the pods' /start_profile and /stop_profile around requests.",
  },
] as const satisfies readonly FlagSpec[];
