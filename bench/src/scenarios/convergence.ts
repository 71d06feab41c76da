import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { writeResults } from '../harness/results.ts';
import type { ScenarioContext } from './context.ts';

/**
 * Convergence (pod change -> every proxy on the new ring, p50/p99) needs the distributed mode end to end: discovery,
 * NATS and several proxies. It is measured by that setup's own end-to-end suite; this scenario records that no
 * number has been measured here rather than inventing one.
 */
export async function runConvergenceScenario(ctx: ScenarioContext): Promise<void> {
  const machine = machineInfo();
  const note =
    'Not measured by bench/: convergence needs the distributed-mode end-to-end setup (discovery + NATS + several ' +
    'proxies), which measures it (pod change -> all proxies on the new ring fingerprint, p50/p99). No numbers here.';
  await writeResults(
    ctx.name,
    { scenario: 'convergence', machine, command: ctx.command, measured: false, note },
    [`# convergence`, '', machineMarkdown(machine, ctx.command), '', `**${note}**`].join('\n'),
  );
  ctx.log(note);
}
