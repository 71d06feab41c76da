import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection, QueuedIterator, Status } from '@nats-io/transport-node';
import { Backoff } from '@pdrouter/core';
import { connectionOfBucket } from './bucket.ts';

/** First pause before re-creating a watch that failed or ended; doubles per failure up to the max. */
export const WATCH_RETRY_MIN_MS = 250;
/** Upper bound of the watch re-creation backoff, so a recovered server is noticed within seconds. */
export const WATCH_RETRY_MAX_MS = 5_000;
/** Share of each pause drawn at random, so proxies that lost the same server do not return in step. */
export const WATCH_RETRY_JITTER = 0.2;

export interface WatchSnapshotsOptions {
  /** The connection to follow; defaults to the one the bucket was opened with. */
  nc?: NatsConnection;
  /** Called when the watch fails or ends; it is re-created after a backoff. */
  onError?: (err: Error) => void;
  /** Called each time the watch is re-created (after a failure, an end, or a reconnect). */
  onRestart?: () => void;
  retryMinMs?: number;
  retryMaxMs?: number;
}

export interface SnapshotWatch {
  stop(): Promise<void>;
}

/**
 * Watches one pool key: `onValue` receives the current value first, then every update, as raw strings
 * (the caller parses and orders them). Deletes are ignored (the last value stays the truth) and a value
 * identical to the previous one is not delivered twice.
 *
 * JetStream watches are server-side consumers: a server restart loses them, and the client's own
 * recovery only kicks in after missed heartbeats. So the watch is re-created at once on every reconnect
 * (from the key's last value, which also covers anything published while disconnected) and, whenever it
 * fails or ends, after a bounded backoff. The returned promise resolves after the first attempt, whether
 * or not it succeeded, so a NATS outage at start-up never blocks the caller.
 */
export async function watchSnapshots(
  kv: KV,
  pool: string,
  onValue: (raw: string) => void,
  options: WatchSnapshotsOptions = {},
): Promise<SnapshotWatch> {
  const retryMinMs = options.retryMinMs ?? WATCH_RETRY_MIN_MS;
  const retryMaxMs = options.retryMaxMs ?? WATCH_RETRY_MAX_MS;
  const nc = options.nc ?? connectionOfBucket(kv);
  const report = (err: unknown): void => {
    options.onError?.(err instanceof Error ? err : new Error(String(err)));
  };

  let stopped = false;
  let current: QueuedIterator<KvWatchEntry> | undefined;
  let lastRaw: string | undefined;
  let wakeUp: (() => void) | undefined;
  let firstAttemptDone: () => void = () => {};
  const firstAttempt = new Promise<void>((resolve) => {
    firstAttemptDone = resolve;
  });

  const sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  const watchOnce = async (): Promise<boolean> => {
    const iter = await kv.watch({ key: pool });
    if (stopped) {
      iter.stop();
      return false;
    }
    current = iter;
    firstAttemptDone();
    for await (const entry of iter) {
      if (entry.operation !== 'PUT') continue;
      const raw = entry.string();
      if (raw === lastRaw) continue;
      lastRaw = raw;
      try {
        onValue(raw);
      } catch (err) {
        report(err);
      }
    }
    return true;
  };

  const loop = async (): Promise<void> => {
    const backoff = new Backoff({
      initialMs: retryMinMs,
      maxMs: retryMaxMs,
      multiplier: 2,
      jitterFactor: WATCH_RETRY_JITTER,
    });
    while (!stopped) {
      try {
        const established = await watchOnce();
        if (established) backoff.reset();
        if (!stopped) report(new Error(`watch on ${pool} ended`));
      } catch (err) {
        if (!stopped) report(err);
      }
      current = undefined;
      firstAttemptDone();
      if (stopped) break;
      await sleep(backoff.next());
      if (!stopped) options.onRestart?.();
    }
  };

  // The client's status iterable is a queued iterator with stop(); stopping it unregisters the listener.
  const statusIterator = nc?.status() as (AsyncIterable<Status> & { stop?: () => void }) | undefined;
  const followReconnects = async (): Promise<void> => {
    if (statusIterator === undefined) return;
    for await (const status of statusIterator) {
      if (status.type === 'reconnect') {
        // Drop the (probably dead) consumer; the loop re-creates it from the key's last value.
        current?.stop();
        wakeUp?.();
      }
    }
  };

  const loopDone = loop();
  void followReconnects().catch(report);
  await firstAttempt;

  return {
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      statusIterator?.stop?.();
      current?.stop();
      wakeUp?.();
      await loopDone;
    },
  };
}
