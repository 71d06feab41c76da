// `bench decision-cost`: the routing decision's cost alone (the fleet scenario measures it too, after its runs).
import { measureDecisionCost } from '../fleet/decision-cost.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import type { ScenarioContext } from './context.ts';

export async function runDecisionCostScenario(ctx: ScenarioContext): Promise<void> {
  const machine = machineInfo();
  const rows = measureDecisionCost(ctx.quick);
  const md = [
    `# decision-cost: the routing decision per request${ctx.quick ? ' (--quick)' : ''}`,
    '',
    machineMarkdown(machine, ctx.command),
    '',
    'What is timed and how: `bench/src/fleet/decision-cost.ts` (its header comment).',
    '',
    markdownTable(
      ['Policy', 'Pods', 'Requests timed', 'Mean (µs)', 'p50 (µs)', 'p99 (µs)', 'Pick only p50 / p99 (µs)'],
      rows.map((c) => [
        c.policy,
        String(c.pods),
        String(c.requests),
        fmt(c.mean_us),
        fmt(c.p50_us),
        fmt(c.p99_us),
        `${fmt(c.pick_p50_us)} / ${fmt(c.pick_p99_us)}`,
      ]),
    ),
  ].join('\n');
  const files = await writeResults(
    ctx.name,
    { scenario: 'decision-cost', quick: ctx.quick, machine, command: ctx.command, rows },
    md,
  );
  ctx.log(`wrote ${files.join(', ')}`);
}
