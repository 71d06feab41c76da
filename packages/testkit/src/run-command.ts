import { execFile } from 'node:child_process';

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Default deadline for a one-shot command (kubectl get, ...). */
export const RUN_COMMAND_TIMEOUT_MS = 20_000;

/**
 * Runs a command to completion with a deadline (SIGKILL when it passes) and never rejects on a
 * non-zero exit: tests assert on the code and the output.
 */
export function runCommand(
  cmd: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      {
        timeout: options.timeoutMs ?? RUN_COMMAND_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        env: options.env,
        cwd: options.cwd,
        maxBuffer: 32 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new Error(`cannot run ${cmd}: not found`));
          return;
        }
        if (err?.killed) {
          reject(
            new Error(
              `${cmd} ${args.join(' ')} timed out after ${options.timeoutMs ?? RUN_COMMAND_TIMEOUT_MS} ms\n${stderr}`,
            ),
          );
          return;
        }
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}
