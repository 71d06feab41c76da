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
  /** Called each time the watch is re-created, with why: it failed or ended, NATS reconnected, or it was silent. */
  onRestart?: (reason: WatchRestartCause) => void;
  /**
   * A watch that delivered nothing for this long is presumed dead (its server-side consumer lost) and
   * re-created from the key's last value. Set it above the publisher's heartbeat. Default: no watchdog.
   */
  silenceRestartMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
}

export type WatchRestartCause = 'failed' | 'reconnect' | 'silent';

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
  let cause: WatchRestartCause = 'failed';
  let lastDeliveryAt = Date.now();
  const watchdog =
    options.silenceRestartMs === undefined
      ? undefined
      : setInterval(
          () => {
            if (current === undefined || Date.now() - lastDeliveryAt < (options.silenceRestartMs as number)) return;
            cause = 'silent';
            report(new Error(`watch on ${pool} silent for over ${options.silenceRestartMs} ms; re-creating it`));
            lastDeliveryAt = Date.now();
            current.stop();
          },
          Math.max(10, Math.floor(options.silenceRestartMs / 4)),
        );
  watchdog?.unref();
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
    lastDeliveryAt = Date.now();
    firstAttemptDone();
    for await (const entry of iter) {
      lastDeliveryAt = Date.now();
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
        if (!stopped && cause === 'failed') report(new Error(`watch on ${pool} ended`));
      } catch (err) {
        if (!stopped) report(err);
      }
      current = undefined;
      firstAttemptDone();
      if (stopped) break;
      // A watch dropped on purpose (reconnect, silence) is re-created at once; a failure backs off.
      if (cause === 'failed') await sleep(backoff.next());
      if (!stopped) options.onRestart?.(cause);
      cause = 'failed';
    }
  };

  // The client's status iterable is a queued iterator with stop(); stopping it unregisters the listener.
  const statusIterator = nc?.status() as (AsyncIterable<Status> & { stop?: () => void }) | undefined;
  const followReconnects = async (): Promise<void> => {
    if (statusIterator === undefined) return;
    for await (const status of statusIterator) {
      if (status.type === 'reconnect') {
        // Drop the (probably dead) consumer; the loop re-creates it from the key's last value.
        cause = 'reconnect';
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
      clearInterval(watchdog);
      statusIterator?.stop?.();
      current?.stop();
      wakeUp?.();
      await loopDone;
    },
  };
}
