import { join } from 'node:path';
import { runCommand } from '@pdrouter/testkit';
import { REPO_ROOT } from '../harness/machine.ts';
import type { ScenarioContext } from './context.ts';

/** The ring micro-benchmarks take seconds; this bounds a broken run. */
const RING_BENCH_TIMEOUT_MS = 10 * 60_000;

/**
 * The ring micro-benchmarks (bench/src/ring.ts: hashing a 4 KiB key, lookups/s, building 1,000 x 160 vnodes, keys
 * moved when 1 of 8 members leaves) in their own process; they write bench/results/ring.json and ring.md
 * (ring-quick.* with --quick) with the machine and the commit themselves.
 */
export async function runRingScenario(ctx: ScenarioContext): Promise<void> {
  const { code, stdout, stderr } = await runCommand(
    process.execPath,
    [join(REPO_ROOT, 'bench', 'src', 'ring.ts'), ...(ctx.quick ? ['--quick'] : [])],
    { timeoutMs: RING_BENCH_TIMEOUT_MS, cwd: REPO_ROOT },
  );
  process.stdout.write(stdout);
  if (code !== 0) throw new Error(`bench/src/ring.ts exited with ${code}: ${stderr.slice(-2000)}`);
}
