// Prints measureDecisionCost() as JSON: the fleet scenario runs it in a fresh process after its cluster has
// stopped, so the timings see neither the scenario's heap (its GC pauses) nor its event loop.
import { measureDecisionCost } from './decision-cost.ts';

process.stdout.write(`${JSON.stringify(measureDecisionCost(process.argv.includes('--quick')))}\n`);
