// Time as discovery sees it: injectable so leader election, debounce and backoff run on a fake clock in
// tests (milliseconds of wall time instead of whole lease durations).

/** A sleep that `abort()` cuts short. */
export type SleepFn = (ms: number, signal: AbortSignal) => Promise<void>;

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  now(): number;
  sleep: SleepFn;
  /** Runs `fn` once after `ms`; the timer never keeps the process alive on its own. */
  setTimer(ms: number, fn: () => void): TimerHandle;
}

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

export const realClock: Clock = {
  now: Date.now,
  sleep: realSleep,
  setTimer(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** Rejects when `promise` has not settled after `ms` on `clock`. */
export function withTimeout<T>(clock: Clock, promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: TimerHandle | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.setTimer(ms, () => reject(new Error(`${what} timed out after ${Math.round(ms)} ms`)));
  });
  return Promise.race([promise, timeout]).finally(() => timer?.cancel());
}
