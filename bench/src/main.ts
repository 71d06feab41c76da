#!/usr/bin/env node
// `node bench/src/main.ts <scenario> [--quick] [flags]`: runs one benchmark scenario and writes
// bench/results/<scenario>.json and .md (<scenario>-quick.* for --quick, so a quick run never replaces a full one).
import { UsageError, usageErrorText } from '@pdrouter/cli';
import { type ScenarioContext, scenarioContext } from './scenarios/context.ts';

interface Scenario {
  readonly help: string;
  /** The flags the scenario reads (each takes a value); any other flag is a usage error. */
  readonly flags: readonly string[];
  readonly run: (ctx: ScenarioContext) => Promise<void>;
}

const SCENARIOS: Record<string, Scenario> = {
  seed: {
    flags: ['concurrency', 'input-len', 'num-prompts', 'output-len', 'repeat'],
    help: '8P+8D seed-calibrated sims, 200 x 1000/1000, concurrency 32-256: pdrouter vs the oracle (flags: --concurrency 32,64 --num-prompts N --input-len N --output-len N)',
    run: async (ctx) => (await import('./scenarios/seed.ts')).runSeedScenario(ctx),
  },
  overhead: {
    flags: ['concurrency', 'num-prompts', 'output-len', 'skip', 'timing'],
    help: 'plain mode, zero-delay sims, concurrency 1/64/256: direct vs pdrouter vs nginx vs a TypeScript gateway (flags: --concurrency, --output-len, --skip nginx,portkey)',
    run: async (ctx) => (await import('./scenarios/overhead.ts')).runOverheadScenario(ctx),
  },
  affinity: {
    flags: ['sessions', 'turns'],
    help: 'multi-turn sessions sharing system prompts: prefix-cache hit rate, TTFT and load spread per policy / hash-key mode',
    run: async (ctx) => (await import('./scenarios/affinity.ts')).runAffinityScenario(ctx),
  },
  admission: {
    flags: ['prompts', 'rate'],
    help: 'overload (Poisson arrivals above capacity) on 2P+2D small-batch sims: goodput (TTFT SLO) with and without --max-concurrent-requests (flags: --prompts N --rate N)',
    run: async (ctx) => (await import('./scenarios/admission.ts')).runAdmissionScenario(ctx),
  },
  ring: {
    flags: [],
    help: 'ring micro-benchmarks: hashing a 4 KiB key, lookups/s, building 1,000 x 160, keys moved when 1 of 8 leaves',
    run: async (ctx) => (await import('./scenarios/ring.ts')).runRingScenario(ctx),
  },
  soak: {
    flags: ['duration-secs'],
    help: 'mixed traffic (streams, completions, client aborts, malformed bodies) with rotating pod faults for --duration-secs (default 120): proxy RSS and open fds sampled',
    run: async (ctx) => (await import('./scenarios/soak.ts')).runSoakScenario(ctx),
  },
  'body-budget': {
    flags: ['baseline', 'concurrency', 'rounds'],
    help: '32 concurrent maximum-size bodies (8 MiB prompt, 2 MiB of [{},...]) in P/D mode: event-loop delay p99/max and RSS, side by side with --baseline <git rev> (flags: --concurrency N --rounds N)',
    run: async (ctx) => (await import('./scenarios/body-budget.ts')).runBodyBudgetScenario(ctx),
  },
  'ring-updates': {
    flags: ['pods', 'changes', 'churn-ms'],
    help: "the proxy's snapshot apply at 10,000 pods: full first apply, one-pod changes, event-loop delay while snapshots churn under load (flags: --pods N --changes N --churn-ms N)",
    run: async (ctx) => (await import('./scenarios/ring-updates.ts')).runRingUpdatesScenario(ctx),
  },
  convergence: {
    flags: ['changes', 'debounce-ms', 'dwell-ms', 'load-concurrency'],
    help: 'distributed mode (NATS, API fake, 2 discovery, 2 proxies): pod change -> both proxies on the new ring, p50/p99, under load (flags: --changes N --debounce-ms N --load-concurrency N --dwell-ms N)',
    run: async (ctx) => (await import('./scenarios/convergence.ts')).runConvergenceScenario(ctx),
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
  let ctx: ScenarioContext;
  try {
    ctx = scenarioContext(
      quick ? `${name}-quick` : name,
      scenario.flags,
      rest,
      `node bench/src/main.ts ${args.join(' ')}`,
    );
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(usageErrorText(`bench ${name}`, err));
      return err.exitCode;
    }
    throw err;
  }
  await scenario.run(ctx);
  return 0;
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
