import { join } from 'node:path';
import { type CommandResult, runCommand as runToEnd } from '@pdrouter/testkit';

export const REPO_ROOT = join(import.meta.dirname, '../../..');
export const CLI = join(import.meta.dirname, '../src/main.ts');
/** Generous: a cold start of Node with type stripping on a loaded 2-core machine. */
const CLI_TIMEOUT_MS = 20_000;

export type CliResult = CommandResult;

/** Runs a command to completion (killed after timeoutMs), feeding `input` on stdin; cwd defaults to the repository. */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  return runToEnd(command, args, { timeoutMs: CLI_TIMEOUT_MS, ...options, cwd: options.cwd ?? REPO_ROOT });
}

/** Runs `node apps/ctl/src/main.ts ...args`. */
export function runCli(args: string[], options: { cwd?: string; input?: string } = {}): Promise<CliResult> {
  const env = { ...process.env };
  // Relative paths resolve against INIT_CWD when a package manager launched us; tests pass cwd.
  delete env.INIT_CWD;
  return runCommand(process.execPath, [CLI, ...args], { ...options, env });
}
