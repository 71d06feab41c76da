/** Polling with a deadline: every wait in the test suites goes through here so none can hang forever. */

export interface WaitOptions {
  /** Give up after this long (default DEFAULT_WAIT_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Pause between polls (default DEFAULT_WAIT_INTERVAL_MS). */
  intervalMs?: number;
  /** Included in the timeout error so a failing test says what it was waiting for. */
  description?: string;
}

/** Generous: the suites run on loaded 2-core machines. */
export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;
export const DEFAULT_WAIT_INTERVAL_MS = 25;

export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

/** Thrown by a predicate to end the wait at once (e.g. the awaited process died): waitUntil rethrows it. */
export class StopWaiting extends Error {
  override readonly name = 'StopWaiting';
}

/**
 * Polls `pred` until it returns a truthy value (which is returned) or the deadline passes.
 * A throwing predicate counts as "not yet" (its last error is reported on timeout), except StopWaiting.
 */
export async function waitUntil<T>(pred: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  const intervalMs = options.intervalMs ?? DEFAULT_WAIT_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await pred();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = options.description ? ` for ${options.description}` : '';
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting${what}${cause}`);
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with a WaitTimeoutError when `promise` has not settled within `timeoutMs`. */
export function withDeadline<T>(promise: Promise<T>, timeoutMs: number, description: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${description}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Polls `read` until its value has stayed the same for `steadyMs` (a stream that stopped, buffers that
 * filled up), and returns that value; a value that keeps changing fails at the deadline like waitUntil.
 */
export async function waitUntilSteady<T>(
  read: () => T | Promise<T>,
  options: WaitOptions & { steadyMs: number },
): Promise<T> {
  let last: { value: T; sinceMs: number } | undefined;
  const found = await waitUntil(
    async () => {
      const value = await read();
      const now = Date.now();
      if (last === undefined || !Object.is(last.value, value)) {
        last = { value, sinceMs: now };
        return undefined;
      }
      return now - last.sinceMs >= options.steadyMs ? { value } : undefined;
    },
    { intervalMs: Math.max(1, Math.min(DEFAULT_WAIT_INTERVAL_MS, options.steadyMs / 5)), ...options },
  );
  return found.value;
}
