import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** How long a child gets to exit after SIGTERM before it is killed. */
export const STOP_GRACE_MS = 5_000;

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** The stdout and stderr lines so far (the last MAX_KEPT_LINES), for error messages. */
  readonly output: string[];
  stop(): Promise<void>;
}

const MAX_KEPT_LINES = 200;

/** Every child still running, so an interrupted scenario stops them instead of leaving them behind. */
const running = new Set<ChildProcess>();
let signalsHooked = false;
function track(proc: ChildProcess): void {
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  if (signalsHooked) return;
  signalsHooked = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      // SIGTERM, not SIGKILL: nginx's master then stops its workers, the proxy and the pods close their sockets.
      for (const p of running) p.kill('SIGTERM');
      process.exit(130);
    });
  }
}

/**
 * Starts a program and resolves once `ready(line)` matches a line of its stdout (returning the parsed value), or
 * rejects when it exits first or the deadline passes (killing it then).
 */
export async function startChild<T>(options: {
  name: string;
  command: string;
  args: readonly string[];
  ready: (line: string) => T | undefined;
  readyTimeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onLine?: (line: string) => void;
  /** Readiness by other means than a stdout line (e.g. polling a port); resolves to the ready value. */
  startedWhen?: () => Promise<unknown>;
}): Promise<{ child: Child; ready: T }> {
  const proc = spawn(options.command, options.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  track(proc);
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const child: Child = {
    name: options.name,
    process: proc,
    pid: proc.pid ?? -1,
    output,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (message: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(new Error(`${options.name}: ${message}\n${output.slice(-20).join('\n')}`));
    };
    const timer = setTimeout(() => fail(`not ready within ${options.readyTimeoutMs} ms`), options.readyTimeoutMs);
    const onText = (stream: NodeJS.ReadableStream, isStdout: boolean): void => {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (text: string) => {
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          output.push(line);
          if (output.length > MAX_KEPT_LINES) output.shift();
          options.onLine?.(line);
          if (!settled && isStdout) {
            let value: T | undefined;
            try {
              value = options.ready(line);
            } catch {
              value = undefined;
            }
            if (value !== undefined) {
              settled = true;
              clearTimeout(timer);
              resolve({ child, ready: value });
            }
          }
        }
      });
    };
    onText(proc.stdout as NodeJS.ReadableStream, true);
    onText(proc.stderr as NodeJS.ReadableStream, false);
    proc.once('error', (err) => fail(`failed to start: ${err.message}`));
    options.startedWhen?.().then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ child, ready: value as T });
      },
      (err: unknown) => fail(err instanceof Error ? err.message : String(err)),
    );
    proc.once('exit', (code, signal) => fail(`exited (${signal ?? code}) before it was ready`));
  });
}

/** Runs a program to completion (with a deadline) and returns its exit code and output. */
export function runToEnd(options: {
  command: string;
  args: readonly string[];
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(options.command, options.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env,
      cwd: options.cwd,
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (t: string) => {
      stdout += t;
    });
    proc.stderr.setEncoding('utf8').on('data', (t: string) => {
      stderr += t;
    });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(
        new Error(`${options.command} ${options.args.join(' ')}: no exit within ${options.timeoutMs} ms\n${stderr}`),
      );
    }, options.timeoutMs);
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (fields 14 and 15, in ticks). */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after it start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_S;
}

/** Linux's USER_HZ: /proc times are in 1/100 s on every mainstream architecture. */
const CLOCK_TICKS_PER_S = 100;

/** Resident and peak resident memory of a process in MiB, from /proc/<pid>/status. */
export async function processMemoryMiB(pid: number): Promise<{ rssMiB: number; peakRssMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024 };
}

/** CPU seconds of a process and all its live descendants (nginx workers, a gateway started through a shell). */
export async function processTreeCpuSeconds(pid: number): Promise<number> {
  let total = 0;
  for (const p of await processTree(pid)) {
    try {
      total += await processCpuSeconds(p);
    } catch {
      // the process ended between listing and reading
    }
  }
  return total;
}

export async function processTreeMemoryMiB(pid: number): Promise<{ rssMiB: number; peakRssMiB: number }> {
  let rssMiB = 0;
  let peakRssMiB = 0;
  for (const p of await processTree(pid)) {
    try {
      const m = await processMemoryMiB(p);
      rssMiB += m.rssMiB;
      peakRssMiB += m.peakRssMiB;
    } catch {
      // ended meanwhile
    }
  }
  return { rssMiB, peakRssMiB };
}

async function processTree(root: number): Promise<number[]> {
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    try {
      const children = await readFile(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8');
      for (const c of children.split(' ').filter(Boolean)) out.push(Number(c));
    } catch {
      // no children file (ended)
    }
  }
  return out;
}
