// Members from the discovery leader's snapshots in NATS (--nats-url, --pool): the KV key of the pool is
// watched (current value first, then every update). Every value is parsed here and handed to the proxy,
// which orders it (epoch, seq) against what it has; a value that does not parse is rejected and the last
// good snapshot stays in use. While NATS is down nothing is applied, so the proxy keeps routing on the
// last good ring; the watch resumes by itself after reconnecting.
import type { NatsConnection } from '@nats-io/transport-node';
import { Backoff, isPlausibleEpoch, MAX_EPOCH_AHEAD_MS, parseSnapshot } from '@pdrouter/core';
import {
  connectNats,
  DEFAULT_SNAPSHOT_BUCKET,
  openSnapshotBucket,
  type SnapshotWatch,
  type WatchRestartCause,
  watchSnapshots,
} from '@pdrouter/nats-snapshots';
import type { SnapshotSource } from './snapshot-source.ts';

/** How long start() waits for the first connection before resolving anyway (it keeps trying afterwards). */
export const NATS_FIRST_CONNECT_WAIT_MS = 5_000;
/** Backoff between connection attempts while NATS cannot be reached at start-up (doubling up to the max). */
export const NATS_CONNECT_RETRY_MIN_MS = 250;
export const NATS_CONNECT_RETRY_MAX_MS = 5_000;
/** Share of each pause drawn at random, so replicas started together do not retry in step. */
export const NATS_CONNECT_RETRY_JITTER = 0.2;

/**
 * The discovery leader republishes every --heartbeat-secs (10 s by default): a watch that delivered
 * nothing for three and a half heartbeats has lost its server-side consumer and is re-created.
 */
export const SNAPSHOT_SILENCE_RESTART_MS = 35_000;

export interface NatsSnapshotSourceOptions {
  readonly url: string;
  readonly credsFile?: string;
  /** TLS files (PEM) for tls:// servers: CA, and client certificate + key for mutual TLS. */
  readonly tls?: { caFile?: string; certFile?: string; keyFile?: string };
  readonly pool: string;
  readonly bucket?: string;
  /** Called each time the watch had to be re-created (reconnect, failure); for a metric. */
  readonly onWatchRestart?: (cause: WatchRestartCause) => void;
  /** NATS disconnects and reconnects of this source's connection. */
  readonly onConnectionEvent?: (event: 'disconnect' | 'reconnect', server: string) => void;
  /** A watch silent for this long is re-created (default SNAPSHOT_SILENCE_RESTART_MS). */
  readonly silenceRestartMs?: number;
  readonly firstConnectWaitMs?: number;
}

export function natsSnapshotSource(options: NatsSnapshotSourceOptions): SnapshotSource {
  const bucket = options.bucket ?? DEFAULT_SNAPSHOT_BUCKET;
  let nc: NatsConnection | undefined;
  let watch: SnapshotWatch | undefined;
  let closed = false;
  let lastReason: string | undefined;
  let wakeUp: (() => void) | undefined;
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  return {
    description: `nats ${options.url} bucket ${bucket} key ${options.pool}`,
    async start(apply, reject) {
      const report = (reason: string): void => {
        // The same failure repeats on every retry while NATS is down: say it once per change.
        if (reason !== lastReason) reject(reason);
        lastReason = reason;
      };
      const run = async (): Promise<void> => {
        // Once connected the client reconnects by itself; only the first connection needs this loop.
        let conn: NatsConnection | undefined;
        const backoff = new Backoff({
          initialMs: NATS_CONNECT_RETRY_MIN_MS,
          maxMs: NATS_CONNECT_RETRY_MAX_MS,
          multiplier: 2,
          jitterFactor: NATS_CONNECT_RETRY_JITTER,
        });
        while (conn === undefined) {
          if (closed) return;
          try {
            conn = await connectNats({
              url: options.url,
              name: `pdrouter-proxy-${options.pool}`,
              ...(options.credsFile === undefined ? {} : { credsFile: options.credsFile }),
              ...(options.tls === undefined ? {} : { tls: options.tls }),
            });
          } catch (err) {
            report(`nats: ${(err as Error).message}; retrying`);
            await pause(backoff.next());
          }
        }
        if (closed) {
          await conn.close();
          return;
        }
        nc = conn;
        void (async () => {
          for await (const s of conn.status()) {
            if (s.type === 'disconnect' || s.type === 'reconnect')
              options.onConnectionEvent?.(s.type, String(s.server));
          }
        })().catch(() => {});
        // Bind without creating: the discovery leader owns the bucket; until it exists the watch retries.
        const kv = await openSnapshotBucket(conn, { bucket, create: false });
        watch = await watchSnapshots(
          kv,
          options.pool,
          (raw) => {
            const parsed = parseSnapshot(raw);
            if (!parsed.ok) {
              reject(`nats key ${options.pool}: ${parsed.error}`, 'invalid');
              return;
            }
            const s = parsed.snapshot;
            if (s.pool !== options.pool) {
              reject(`nats key ${options.pool}: the snapshot is pool ${JSON.stringify(s.pool)}'s`, 'pool');
              return;
            }
            if (!isPlausibleEpoch(s.epoch, Date.now())) {
              reject(
                `nats key ${options.pool}: epoch ${s.epoch} is more than ${MAX_EPOCH_AHEAD_MS} ms ahead of this clock`,
                'future',
              );
              return;
            }
            lastReason = undefined;
            apply(parsed.snapshot);
          },
          {
            onError: (err) => report(`nats watch on ${bucket}/${options.pool}: ${err.message}`),
            silenceRestartMs: options.silenceRestartMs ?? SNAPSHOT_SILENCE_RESTART_MS,
            ...(options.onWatchRestart === undefined ? {} : { onRestart: options.onWatchRestart }),
          },
        );
        if (closed) await watch.stop();
      };
      const running = run().catch((err: unknown) => report(`nats: ${(err as Error).message}`));
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          if (nc === undefined) report(`nats: not connected to ${options.url} yet; still trying`);
          resolve();
        }, options.firstConnectWaitMs ?? NATS_FIRST_CONNECT_WAIT_MS);
        timer.unref();
      });
      await Promise.race([running, waited]);
      clearTimeout(timer);
    },
    async close() {
      closed = true;
      wakeUp?.();
      await watch?.stop();
      await nc?.close().catch(() => {});
    },
  };
}
