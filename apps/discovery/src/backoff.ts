/** Exponential backoff: min, 2*min, 4*min ... capped at max. `failures` counts from 1. */
export function backoffDelayMs(failures: number, minMs: number, maxMs: number): number {
  const exp = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(maxMs, minMs * 2 ** exp);
}

/** A sleep that `abort()` cuts short; injectable so tests can observe and shorten every delay. */
export type SleepFn = (ms: number, signal: AbortSignal) => Promise<void>;

export const realSleep: SleepFn = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
