import { type ChildProcess, spawn } from 'node:child_process';
import { terminateChild, trackChild } from './child-registry.ts';
import { StopWaiting, WaitTimeoutError, waitUntil } from './wait.ts';

/**
 * Child processes for end-to-end tests (proxies, discovery replicas, kubectl -w, the simulator CLI):
 * output captured line by line, readiness detected from a log line with a deadline, and a stop that
 * always ends the process (SIGKILL after a grace period). Every process is also killed when the test
 * worker exits, so a failed suite leaves nothing running.
 */

export type LinePredicate = (line: string) => boolean;

export interface SpawnOptions {
  /** Ready once a stdout or stderr line satisfies this (default: as soon as the process is spawned). */
  readyLine?: LinePredicate;
  /** Deadline for readiness (default SPAWN_READY_TIMEOUT_MS). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Used in error messages (default: the command's base name). */
  name?: string;
}

export interface WaitForOptions {
  timeoutMs?: number;
  /** Which output to search (default 'any'). */
  stream?: 'stdout' | 'stderr' | 'any';
  /** Only lines from this index of the chosen stream on (e.g. `proc.allLines.length` before an action). */
  from?: number;
}

export interface SpawnedProcess {
  readonly proc: ChildProcess;
  readonly name: string;
  /** The process id (-1 if it never started). */
  readonly pid: number;
  /** stdout lines so far. */
  readonly lines: readonly string[];
  /** stderr lines so far. */
  readonly errLines: readonly string[];
  /** stdout and stderr lines in arrival order. */
  readonly allLines: readonly string[];
  readonly exited: boolean;
  readonly exitCode: number | null;
  /** Resolves with the first (new) line satisfying `pred`; rejects on timeout or if the process exits first. */
  waitFor(pred: LinePredicate, options?: number | WaitForOptions): Promise<string>;
  /** Resolves when the process has exited and its output has ended (rejects after `timeoutMs`). */
  waitForExit(timeoutMs?: number): Promise<number | null>;
  /** Sends `signal` (default SIGTERM), SIGKILLs after `timeoutMs` (default SPAWN_STOP_GRACE_MS); idempotent. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** Recent stdout and stderr, for failure messages. */
  output(maxLines?: number): string;
}

export const SPAWN_READY_TIMEOUT_MS = 20_000;
export const SPAWN_WAIT_FOR_TIMEOUT_MS = 10_000;
export const SPAWN_STOP_GRACE_MS = 5_000;

const running = new Set<SpawnedProcess>();

export async function spawnProcess(
  cmd: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<SpawnedProcess> {
  const name = options.name ?? cmd.split('/').at(-1) ?? cmd;
  const proc = spawn(cmd, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(proc);
  const lines: string[] = [];
  const errLines: string[] = [];
  const combined: string[] = [];
  let spawnError: Error | undefined;
  proc.once('error', (err) => {
    spawnError = err;
  });
  collectLines(proc.stdout, lines, combined);
  collectLines(proc.stderr, errLines, combined);
  const exited = () => proc.exitCode !== null || proc.signalCode !== null || spawnError !== undefined;
  // 'close' comes after 'exit' once stdout and stderr have ended: only then are all output lines in.
  let closed = false;
  proc.once('close', () => {
    closed = true;
  });

  const handle: SpawnedProcess = {
    proc,
    name,
    get pid() {
      return proc.pid ?? -1;
    },
    lines,
    errLines,
    allLines: combined,
    get exited() {
      return exited();
    },
    get exitCode() {
      return proc.exitCode;
    },
    async waitFor(pred, opts) {
      const o: WaitForOptions = typeof opts === 'number' ? { timeoutMs: opts } : (opts ?? {});
      const source = o.stream === 'stdout' ? lines : o.stream === 'stderr' ? errLines : combined;
      let checked = o.from ?? 0;
      const scan = () => {
        for (; checked < source.length; checked++) {
          const line = source[checked];
          if (line !== undefined && pred(line)) return line;
        }
        return undefined;
      };
      try {
        return await waitUntil(
          () => {
            const found = scan();
            if (found !== undefined) return found;
            if (exited())
              throw new StopWaiting(`${name} exited (${describeExit(proc, spawnError)}) before the awaited line`);
            return undefined;
          },
          { timeoutMs: o.timeoutMs ?? SPAWN_WAIT_FOR_TIMEOUT_MS, intervalMs: 10, description: `a line from ${name}` },
        );
      } catch (err) {
        throw withOutput(err, handle);
      }
    },
    async waitForExit(timeoutMs = SPAWN_STOP_GRACE_MS) {
      await waitUntil(() => closed || spawnError !== undefined, {
        timeoutMs,
        intervalMs: 10,
        description: `${name} to exit`,
      });
      return proc.exitCode;
    },
    async stop(signal = 'SIGTERM', timeoutMs = SPAWN_STOP_GRACE_MS) {
      running.delete(handle);
      await terminateChild(proc, signal, timeoutMs);
      return proc.exitCode;
    },
    output(maxLines = 40) {
      return combined.slice(-maxLines).join('\n');
    },
  };
  running.add(handle);
  proc.once('exit', () => running.delete(handle));

  try {
    if (options.readyLine) {
      await handle.waitFor(options.readyLine, { timeoutMs: options.timeoutMs ?? SPAWN_READY_TIMEOUT_MS });
    } else {
      await waitUntil(() => proc.pid !== undefined || spawnError !== undefined, {
        timeoutMs: options.timeoutMs ?? SPAWN_READY_TIMEOUT_MS,
        intervalMs: 5,
      });
      if (spawnError) throw new Error(`cannot start ${cmd}: ${spawnError.message}`);
    }
  } catch (err) {
    await handle.stop('SIGKILL', 0);
    throw err;
  }
  return handle;
}

/** Stops every process started by spawnProcess that is still running (for afterAll/afterEach). */
export async function stopAllProcesses(
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = SPAWN_STOP_GRACE_MS,
): Promise<void> {
  await Promise.all([...running].map((p) => p.stop(signal, timeoutMs)));
}

function collectLines(stream: NodeJS.ReadableStream | null, into: string[], combined: string[]): void {
  if (!stream) return;
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const raw of parts) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      into.push(line);
      combined.push(line);
    }
  });
  stream.on('end', () => {
    if (partial) {
      into.push(partial);
      combined.push(partial);
      partial = '';
    }
  });
}

function describeExit(proc: ChildProcess, spawnError: Error | undefined): string {
  if (spawnError) return spawnError.message;
  return proc.signalCode ? `signal ${proc.signalCode}` : `code ${proc.exitCode}`;
}

function withOutput(err: unknown, p: SpawnedProcess): Error {
  const message = err instanceof Error ? err.message : String(err);
  const text = `${message}\n--- ${p.name} output (last lines) ---\n${p.output()}`;
  return err instanceof WaitTimeoutError ? new WaitTimeoutError(text) : new Error(text);
}
