import type { ChildProcess } from 'node:child_process';

/**
 * Every child a suite starts is registered here so that a crashed or interrupted test run never leaves
 * nats-server or a proxy behind: the 'exit' hook kills whatever is still running (synchronously, the
 * only thing an 'exit' handler can do).
 */
const live = new Set<ChildProcess>();
let hooked = false;

export function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!hooked) {
    hooked = true;
    process.once('exit', killAllTrackedChildren);
  }
}

function killAllTrackedChildren(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Resolves once the child has exited (immediately if it already has). */
export function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Sends `signal`, waits up to `graceMs`, then SIGKILLs and waits for the exit (bounded by
 * KILL_WAIT_MS so even an unkillable child cannot hang teardown).
 */
export async function terminateChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  if (await exitsWithin(child, graceMs)) return;
  child.kill('SIGKILL');
  await exitsWithin(child, KILL_WAIT_MS);
}

/** How long to wait for the exit after SIGKILL before giving up on a child. */
export const KILL_WAIT_MS = 5_000;

async function exitsWithin(child: ChildProcess, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([waitForExit(child).then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
