// vllm-router's retry, circuit-breaker, health-check and worker start-up flags.
// How to change a flag's status (one line): leave `status` out for a flag that does what vllm-router's does;
// `status: 'ignored'` accepts it with a warning at start-up; `status: { refused: 'why' }` makes giving it a
// usage error (exit 2) that names it and says why.
import type { FlagSpec } from '@pdrouter/cli';

export const VLLM_ROUTER_RESILIENCE_FLAGS = [
  {
    name: 'retry-max-retries',
    type: 'int',
    default: 5,
    help: 'Most pods tried after the first one fails, per leg (failover along the ring walk).',
  },
  {
    name: 'disable-retries',
    type: 'bool',
    default: false,
    help: 'No failover: the first pod chosen is the only one tried.',
  },
  {
    name: 'disable-circuit-breaker',
    type: 'bool',
    default: false,
    help: 'Turns passive health (ejection) off.',
  },
  {
    name: 'health-check-endpoint',
    type: 'string',
    default: '/health',
    help: 'Path probed on an ejected pod before it is re-admitted.',
  },
  {
    name: 'health-check-timeout-secs',
    type: 'number',
    default: 5,
    help: 'Timeout of one health probe.',
  },
  {
    name: 'worker-startup-timeout-secs',
    type: 'int',
    default: 600,
    status: 'ignored',
    help: 'Not used: pods are routed to as soon as they are members.',
  },
  {
    name: 'worker-startup-check-interval',
    type: 'int',
    default: 30,
    status: 'ignored',
    help: 'Not used.',
  },
  {
    name: 'retry-initial-backoff-ms',
    type: 'int',
    default: 50,
    status: 'ignored',
    help: 'Failover is immediate (the next pod on the ring).',
  },
  {
    name: 'retry-max-backoff-ms',
    type: 'int',
    default: 30000,
    status: 'ignored',
    help: 'Not used.',
  },
  {
    name: 'retry-backoff-multiplier',
    type: 'number',
    default: 1.5,
    status: 'ignored',
    help: 'Not used.',
  },
  {
    name: 'retry-jitter-factor',
    type: 'number',
    default: 0.2,
    status: 'ignored',
    help: 'Not used.',
  },
  {
    name: 'cb-failure-threshold',
    type: 'int',
    default: 10,
    status: 'ignored',
    help: 'See --eject-after-failures.',
  },
  {
    name: 'cb-success-threshold',
    type: 'int',
    default: 3,
    status: 'ignored',
    help: 'Not used: one successful probe re-admits.',
  },
  {
    name: 'cb-timeout-duration-secs',
    type: 'int',
    default: 60,
    status: 'ignored',
    help: 'See --eject-probe-base-ms.',
  },
  {
    name: 'cb-window-duration-secs',
    type: 'int',
    default: 120,
    status: 'ignored',
    help: 'Not used.',
  },
  {
    name: 'health-failure-threshold',
    type: 'int',
    default: 3,
    status: 'ignored',
    help: 'Not used: health is passive (see --eject-after-failures).',
  },
  {
    name: 'health-success-threshold',
    type: 'int',
    default: 2,
    status: 'ignored',
    help: 'Not used.',
  },
  {
    name: 'health-check-interval-secs',
    type: 'int',
    default: 60,
    status: 'ignored',
    help: 'Not used: only ejected pods are probed.',
  },
] as const satisfies readonly FlagSpec[];
