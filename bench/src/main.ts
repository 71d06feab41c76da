#!/usr/bin/env node
// `node bench/src/main.ts <scenario> [--quick] [flags]`: runs one benchmark scenario and writes
// bench/results/<scenario>.json and .md (<scenario>-quick.* for --quick, so a quick run never replaces a full one).
import { type FlagSpec, UsageError, usageErrorText } from '@pdrouter/cli';
import { stopAllProcesses } from '@pdrouter/testkit';
import { type ScenarioContext, scenarioContext, scenarioHelp } from './scenarios/context.ts';

interface Scenario {
  readonly help: string;
  /** The flags the scenario reads, typed; any other flag (or a value of the wrong type) is a usage error. */
  readonly flags: readonly FlagSpec[];
  readonly run: (ctx: ScenarioContext) => Promise<void>;
}

/** A count: a positive integer. */
const count = (name: string, help: string) => ({ name, type: 'int', min: 1, help }) as const satisfies FlagSpec;
const CONCURRENCY_LEVELS = {
  name: 'concurrency',
  type: 'list',
  valueName: 'N[,N...]',
  help: 'Concurrency levels (positive integers), one run each.',
} as const satisfies FlagSpec;
const NUM_PROMPTS = count('num-prompts', 'Prompts per run.');
const OUTPUT_LEN = count('output-len', 'Output tokens per request.');
const CHANGES = count('changes', 'Pod changes to make.');

const SCENARIOS: Record<string, Scenario> = {
  seed: {
    flags: [
      CONCURRENCY_LEVELS,
      count('input-len', 'Input tokens per request.'),
      NUM_PROMPTS,
      OUTPUT_LEN,
      count('repeat', 'Runs per level.'),
    ],
    help: '8P+8D seed-calibrated sims, 200 x 1000/1000, concurrency 32-256: pdrouter vs the oracle (flags: --concurrency 32,64 --num-prompts N --input-len N --output-len N)',
    run: async (ctx) => (await import('./scenarios/seed.ts')).runSeedScenario(ctx),
  },
  overhead: {
    flags: [
      CONCURRENCY_LEVELS,
      NUM_PROMPTS,
      OUTPUT_LEN,
      {
        name: 'skip',
        type: 'list',
        valueName: 'PATH[,PATH...]',
        help: 'Paths not to measure (nginx, portkey, node-relay).',
      },
      {
        name: 'timing',
        type: 'enum',
        choices: ['zero', 'seed'],
        default: 'zero',
        help: 'Pod timing: zero think time, or paced like the seed GPUs (one chunk per step).',
      },
    ],
    help: 'plain mode, zero-delay sims, concurrency 1/64/256: direct vs pdrouter vs nginx vs a TypeScript gateway (flags: --concurrency, --output-len, --skip nginx,portkey)',
    run: async (ctx) => (await import('./scenarios/overhead.ts')).runOverheadScenario(ctx),
  },
  affinity: {
    flags: [count('sessions', 'Multi-turn sessions.'), count('turns', 'Turns per session.')],
    help: 'multi-turn sessions sharing system prompts: prefix-cache hit rate, TTFT and load spread per policy / hash-key mode',
    run: async (ctx) => (await import('./scenarios/affinity.ts')).runAffinityScenario(ctx),
  },
  fleet: {
    flags: [
      { name: 'workloads', type: 'list', valueName: 'NAME[,NAME...]', help: 'Workloads to run (default: all).' },
      { name: 'variants', type: 'list', valueName: 'ID[,ID...]', help: 'Routing variants to run (default: all).' },
      count('probes', 'Replayed requests per 2-replica run for the agreement.'),
    ],
    help: 'every routing variant x fleet workload (multi-turn, one system prompt, random, heterogeneous, bursty), 1 and 2 proxies in distributed mode: hit rate / ideal, spread, TTFT, TPOT, tok/s, replica agreement (flags: --workloads multi-turn,random --variants hash-vllm,cache-aware --probes N)',
    run: async (ctx) => (await import('./scenarios/fleet.ts')).runFleetScenario(ctx),
  },
  'health-round': {
    flags: [count('pods', 'Pods in the round.')],
    help: "one health-check round over 10,000 pods in the proxy's own parts: probe starts spread over half the interval vs all at once, event-loop delay and GC (flags: --pods N)",
    run: async (ctx) => (await import('./scenarios/health-round.ts')).runHealthRoundScenario(ctx),
  },
  'metrics-scrape': {
    flags: [count('pods', 'Pods the proxy routes to.')],
    help: "GET /metrics of a proxy routing to 10,000 pods: per-pod series as numbers streamed in slices (the proxy's) vs prom-client series rendered in one go; heap per pod, scrape time, event-loop delay (flags: --pods N)",
    run: async (ctx) => (await import('./scenarios/metrics-scrape.ts')).runMetricsScrapeScenario(ctx),
  },
  'decision-cost': {
    flags: [],
    help: "the routing decision's own cost per request (hash key, prefix blocks, pick, index update) per policy at 16 and 1,000 pods, in-process (also part of fleet)",
    run: async (ctx) => (await import('./scenarios/decision-cost.ts')).runDecisionCostScenario(ctx),
  },
  admission: {
    flags: [count('prompts', 'Prompts sent.'), count('rate', 'Requests per second (Poisson arrivals).')],
    help: 'overload (Poisson arrivals above capacity) on 2P+2D small-batch sims: goodput (TTFT SLO) with and without --max-concurrent-requests (flags: --prompts N --rate N)',
    run: async (ctx) => (await import('./scenarios/admission.ts')).runAdmissionScenario(ctx),
  },
  breaker: {
    flags: [count('prompts', 'Prompts per run.'), count('repeat', 'Interleaved runs per variant.')],
    help: 'a decode pod whose /health passes while inference fails (500), on 2P+4D sims: failed requests and E2E latency p50/p99 with the circuit breaker on vs --disable-circuit-breaker, with retries on and off (flags: --prompts N --repeat N)',
    run: async (ctx) => (await import('./scenarios/breaker.ts')).runBreakerScenario(ctx),
  },
  ring: {
    flags: [],
    help: 'ring micro-benchmarks: hashing a 4 KiB key, lookups/s, building 1,000 x 160, keys moved when 1 of 8 leaves',
    run: async (ctx) => (await import('./scenarios/ring.ts')).runRingScenario(ctx),
  },
  soak: {
    flags: [count('duration-secs', 'How long the mixed traffic runs.')],
    help: 'mixed traffic (streams, completions, client aborts, malformed bodies) with rotating pod faults for --duration-secs (default 120): proxy RSS and open fds sampled',
    run: async (ctx) => (await import('./scenarios/soak.ts')).runSoakScenario(ctx),
  },
  'body-budget': {
    flags: [
      { name: 'baseline', type: 'string', valueName: 'REV', help: 'A git revision of the proxy to run side by side.' },
      count('concurrency', 'Bodies in flight at once.'),
      count('rounds', 'Rounds per proxy.'),
    ],
    help: '32 concurrent maximum-size bodies (8 MiB prompt, 2 MiB of [{},...]) in P/D mode: event-loop delay p99/max and RSS, side by side with --baseline <git rev> (flags: --concurrency N --rounds N)',
    run: async (ctx) => (await import('./scenarios/body-budget.ts')).runBodyBudgetScenario(ctx),
  },
  'snapshot-bytes': {
    flags: [],
    help: 'bytes the discovery leader writes to NATS per one-pod change and per heartbeat at 1,000 / 5,000 / 10,000 pods: the single-value snapshot (computed) vs the sharded manifest + changed shards (written to a real nats-server)',
    run: async (ctx) => (await import('./scenarios/snapshot-bytes.ts')).runSnapshotBytesScenario(ctx),
  },
  'ring-updates': {
    flags: [
      count('pods', 'Pods in the snapshot.'),
      CHANGES,
      count('churn-ms', 'How long snapshots churn under load, in milliseconds.'),
      {
        name: 'pin',
        type: 'bool',
        help: 'Pin the router (every thread) to core 1 and its peers (load, discovery) to core 0 with taskset; results go to ring-updates-pinned.*',
      },
    ],
    help: "the proxy's snapshot apply at 10,000 pods: full first apply, one-pod changes, event-loop delay while snapshots churn under load (flags: --pods N --changes N --churn-ms N --pin)",
    run: async (ctx) => (await import('./scenarios/ring-updates.ts')).runRingUpdatesScenario(ctx),
  },
  'standalone-discovery': {
    flags: [
      CHANGES,
      count('dwell-ms', 'Serving time after each change converged.'),
      count('load-concurrency', 'Streamed completions in flight during the changes.'),
    ],
    help: 'one proxy with --service-discovery (its own pod watch, API fake, no NATS): pod change -> the proxy on the new ring, p50/p99, under load (flags: --changes N --load-concurrency N --dwell-ms N)',
    run: async (ctx) => (await import('./scenarios/standalone-discovery.ts')).runStandaloneDiscoveryScenario(ctx),
  },
  convergence: {
    flags: [
      CHANGES,
      count('debounce-ms', "Discovery's debounce window."),
      count('dwell-ms', 'Serving time after each change converged.'),
      count('load-concurrency', 'Streamed completions in flight during the changes.'),
    ],
    help: 'distributed mode (NATS, API fake, 2 discovery, 2 proxies): pod change -> both proxies on the new ring, p50/p99, under load (flags: --changes N --debounce-ms N --load-concurrency N --dwell-ms N)',
    run: async (ctx) => (await import('./scenarios/convergence.ts')).runConvergenceScenario(ctx),
  },
  scale: {
    flags: [
      {
        name: 'pods',
        type: 'list',
        valueName: 'N[,N...]',
        help: 'Pool sizes (pods, half prefill and half decode), one run each (default 1000,5000,10000; --quick: 1000).',
      },
      CHANGES,
      count('dwell-ms', 'Serving time after each change converged.'),
      count('load-concurrency', 'Streamed completions in flight during the changes.'),
      count(
        'sim-processes',
        'vllm-sim processes the 4P+4D real pods are split over (1, 2 or 4; default 4; 1 puts every proxy connection into one process).',
      ),
    ],
    help: 'nats-server, API fake, discovery, 3 proxies with 1,000 / 5,000 / 10,000 pods churned under load: bytes written to NATS per change and heartbeat, convergence to all proxies, event-loop delay, failed requests, RSS and peak open files per proxy and sim (flags: --pods 1000,5000 --changes N --load-concurrency N --dwell-ms N --sim-processes N)',
    run: async (ctx) => (await import('./scenarios/scale.ts')).runScaleScenario(ctx),
  },
};

function usage(): string {
  const lines = ['Usage: node bench/src/main.ts <scenario> [--quick] [flags]', '', 'Scenarios:'];
  for (const [name, s] of Object.entries(SCENARIOS)) lines.push(`  ${name.padEnd(12)} ${s.help}`);
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  const name = args[0];
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const scenario = SCENARIOS[name];
  if (scenario === undefined) {
    process.stderr.write(`unknown scenario '${name}'\n${usage()}\n`);
    return 2;
  }
  const rest = args.slice(1);
  const quick = rest.includes('--quick');
  try {
    const ctx = scenarioContext(
      quick ? `${name}-quick` : name,
      scenario.flags,
      rest,
      `node bench/src/main.ts ${args.join(' ')}`,
    );
    if (ctx.help) {
      process.stdout.write(scenarioHelp(name, scenario.help, scenario.flags));
      return 0;
    }
    await scenario.run(ctx);
  } catch (err) {
    // A flag's value the scenario checks itself (a list of counts, say) is a usage error too.
    if (err instanceof UsageError) {
      process.stderr.write(usageErrorText(`bench ${name}`, err));
      return err.exitCode;
    }
    throw err;
  }
  return 0;
}

// Interrupted: every process the scenario started is stopped (SIGTERM first, so nginx's master stops its workers
// and the proxy and the pods close their sockets) before the bench exits.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopAllProcesses('SIGTERM').finally(() => process.exit(130));
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
