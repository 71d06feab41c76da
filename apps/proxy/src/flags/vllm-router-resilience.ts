// vllm-router's retry, circuit-breaker, health-check and worker start-up flags, with its defaults
// (docs/configuration.md says where pdrouter's meaning differs and why).
// How to change a flag's status (one line): leave `status` out for a flag that does what vllm-router's does;
// `status: { refused: 'why' }` makes giving it a usage error (exit 2) that names it and says why.
import type { FlagSpec } from '@pdrouter/cli';

export const VLLM_ROUTER_RESILIENCE_FLAGS = [
  {
    name: 'retry-max-retries',
    type: 'int',
    default: 5,
    min: 0,
    help: "Most attempts per leg, the first included, each on the next pod of the ring walk (vllm-router's meaning: 5 is one try and four retries; 0 counts as 1).",
  },
  {
    name: 'retry-initial-backoff-ms',
    type: 'int',
    default: 50,
    min: 0,
    help: 'Delay before the first retry of a leg; later retries wait longer (--retry-backoff-multiplier).',
  },
  {
    name: 'retry-max-backoff-ms',
    type: 'int',
    default: 30000,
    min: 0,
    help: 'Longest delay between two attempts of a leg, jitter included.',
  },
  {
    name: 'retry-backoff-multiplier',
    type: 'number',
    default: 1.5,
    help: 'Growth of the retry delay per attempt (>= 1).',
  },
  {
    name: 'retry-jitter-factor',
    type: 'number',
    default: 0.2,
    help: 'Each retry delay is drawn from delay x [1 - f, 1 + f] (0 to 1), so replicas do not retry in lock-step.',
  },
  {
    name: 'disable-retries',
    type: 'bool',
    default: false,
    help: 'No retries: the first pod chosen is the only one tried.',
  },
  {
    name: 'cb-failure-threshold',
    type: 'int',
    default: 10,
    min: 1,
    help: "Consecutive pod or network faults (connection refused/reset, 5xx, timeouts; never a client's 4xx) that open a pod's circuit, taking it out of the walk. A pod that stalls until --first-byte-timeout-ms opens at once.",
  },
  {
    name: 'cb-success-threshold',
    type: 'int',
    default: 3,
    min: 1,
    help: 'Successful trial requests that close a half-open circuit (the pod is back); any failure re-opens it.',
  },
  {
    name: 'cb-timeout-duration-secs',
    type: 'number',
    default: 60,
    help: 'How long a circuit stays open before a trial (half-open). Each re-open after a failed trial doubles it (±20% jitter, up to --cb-max-timeout-duration-secs); it resets only when the circuit closes, never on a health probe.',
  },
  {
    name: 'cb-window-duration-secs',
    type: 'number',
    default: 120,
    help: 'Failures further apart than this do not add up towards --cb-failure-threshold.',
  },
  {
    name: 'disable-circuit-breaker',
    type: 'bool',
    default: false,
    help: 'Circuits never open on traffic (pods failing their health probes are still taken out).',
  },
  {
    name: 'health-failure-threshold',
    type: 'int',
    default: 3,
    min: 1,
    help: 'Consecutive failed health probes that take a pod out (its circuit opens).',
  },
  {
    name: 'health-success-threshold',
    type: 'int',
    default: 2,
    min: 1,
    help: 'Consecutive passing health probes after which a pod taken out may have a trial again (half-open, never straight back).',
  },
  {
    name: 'health-check-timeout-secs',
    type: 'number',
    default: 5,
    help: 'Timeout of one health probe.',
  },
  {
    name: 'health-check-interval-secs',
    type: 'number',
    default: 60,
    help: 'Every member pod is probed on --health-check-endpoint this often.',
  },
  {
    name: 'health-check-endpoint',
    type: 'string',
    default: '/health',
    help: 'Path of the health probe (GET; 2xx is healthy).',
  },
  {
    name: 'worker-startup-timeout-secs',
    type: 'number',
    default: 600,
    help: 'With --worker-urls/--prefill/--decode: at start, how long to wait for the pods to answer their health endpoint (readiness stays false meanwhile); past it the router exits with an error, as vllm-router does.',
  },
  {
    name: 'worker-startup-check-interval',
    type: 'number',
    default: 30,
    help: 'Seconds between two start-up health checks of the pods that have not answered yet.',
  },
] as const satisfies readonly FlagSpec[];
