#!/usr/bin/env node
import { UsageError, usageErrorText } from '@pdrouter/cli';
// The load generator's command line: `vllm bench serve`'s flags and output, against a router, a pod, or (with
// --backend-mode oracle-pd) doing the two P/D legs itself.
import { runBenchmark } from './loadgen/benchmark.ts';
import { type LoadgenConfig, loadgenHelp, parseLoadgenArgs } from './loadgen/config.ts';
import { directTarget, roundRobinTarget, type Target } from './loadgen/targets.ts';

async function makeTarget(config: LoadgenConfig): Promise<Target> {
  if (config.backendMode === 'direct')
    return config.roundRobinUrls.length > 0 ? roundRobinTarget(config) : directTarget(config);
  const { oraclePdTarget, oraclePlainTarget } = await import('./loadgen/oracle-pd.ts');
  return config.backendMode === 'oracle-pd' ? oraclePdTarget(config) : oraclePlainTarget(config);
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${loadgenHelp()}\n`);
    return 0;
  }
  let config: LoadgenConfig;
  try {
    config = parseLoadgenArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(usageErrorText('loadgen', err));
      return err.exitCode;
    }
    throw err;
  }
  const target = await makeTarget(config);
  try {
    const run = await runBenchmark(config, target);
    if (run.resultFile !== undefined && !config.quiet) process.stdout.write(`Result saved to ${run.resultFile}\n`);
    return run.result.completed === 0 ? 1 : 0;
  } finally {
    await target.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`loadgen: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
