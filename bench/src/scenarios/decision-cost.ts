// `bench decision-cost`: the routing decision's cost alone (the fleet scenario measures it too, after its runs).
import { measureDecisionCost } from '../fleet/decision-cost.ts';
import { decisionCostTable } from '../fleet/report.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { writeResults } from '../harness/results.ts';
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
    decisionCostTable(rows),
  ].join('\n');
  const files = await writeResults(
    ctx.name,
    { scenario: 'decision-cost', quick: ctx.quick, machine, command: ctx.command, rows },
    md,
  );
  ctx.log(`wrote ${files.join(', ')}`);
}
