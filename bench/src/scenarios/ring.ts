import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runToEnd } from '../harness/child-process.ts';
import { machineInfo, machineMarkdown, REPO_ROOT } from '../harness/machine.ts';
import { writeResults } from '../harness/results.ts';
import type { ScenarioContext } from './context.ts';

/** The ring micro-benchmarks take seconds; this bounds a broken run. */
const RING_BENCH_TIMEOUT_MS = 10 * 60_000;
const RING_BENCH = join(REPO_ROOT, 'bench', 'src', 'ring.ts');

/**
 * Runs bench/src/ring.ts (the ring micro-benchmarks: hashing a 4 KiB key, lookups/s, building 1,000 x 160 vnodes,
 * keys moved when 1 of 8 members leaves) in its own process and files its output with the machine and commit.
 * A JSON object on its last stdout line becomes the result JSON; the rest of its output goes into the Markdown.
 */
export async function runRingScenario(ctx: ScenarioContext): Promise<void> {
  if (!existsSync(RING_BENCH))
    throw new Error(`${RING_BENCH} is missing: the ring micro-benchmarks have not landed yet`);
  const machine = machineInfo();
  const { code, stdout, stderr } = await runToEnd({
    command: process.execPath,
    args: [RING_BENCH, ...(ctx.quick ? ['--quick'] : [])],
    timeoutMs: RING_BENCH_TIMEOUT_MS,
    cwd: REPO_ROOT,
  });
  if (code !== 0) throw new Error(`bench/src/ring.ts exited with ${code}: ${stderr.slice(-2000)}`);
  const lines = stdout.trimEnd().split('\n');
  let parsed: unknown;
  try {
    parsed = JSON.parse(lines.at(-1) ?? '');
  } catch {
    parsed = undefined;
  }
  const text = parsed === undefined ? lines : lines.slice(0, -1);
  await writeResults(
    ctx.name,
    { scenario: 'ring', quick: ctx.quick, machine, command: ctx.command, result: parsed ?? null, output: text },
    [
      `# ring: consistent-hash ring micro-benchmarks${ctx.quick ? ' (--quick)' : ''}`,
      '',
      machineMarkdown(machine, ctx.command),
      '',
      ...text,
    ].join('\n'),
  );
  process.stdout.write(`${stdout}`);
}
