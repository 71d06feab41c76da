// Members from the discovery leader's snapshots in NATS (--nats-url, --pool): the KV key of the pool is
// watched (current value first, then every update). The key holds a manifest whose members are in shards
// (docs/design.md §4.2): the shards it lists are fetched (only those not seen before) and the whole
// snapshot is handed to the proxy only when every one is there with its digest; until then the previous
// view stays and the manifest is retried. A single-value snapshot (the encoding before shards) is still
// read. The proxy orders what it gets (epoch, seq) against what it has; a value that does not parse is
// rejected and the last good snapshot stays in use. While NATS is down nothing is applied, so the proxy keeps routing on the
// last good ring; the watch resumes by itself after reconnecting.

import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  Backoff,
  isPlausibleEpoch,
  MAX_EPOCH_AHEAD_MS,
  parseStoredValue,
  type Snapshot,
  type SnapshotManifest,
} from '@pdrouter/core';
import {
  connectNats,
  DEFAULT_SNAPSHOT_BUCKET,
  openSnapshotBucket,
  ShardedSnapshotReader,
  type SnapshotWatch,
  type WatchRestartCause,
  watchSnapshots,
} from '@pdrouter/nats-snapshots';
import { type SnapshotSource, type SourceRejectKind, validatedSnapshot } from './snapshot-source.ts';

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
/** Backoff between attempts to assemble a manifest whose shards are not all there (doubling up to the max). */
export const SHARD_RETRY_MIN_MS = 250;
export const SHARD_RETRY_MAX_MS = 5_000;

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
  let retryTimer: NodeJS.Timeout | undefined;
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
        const onValue = manifestAssembler(kv, options.pool, {
          apply: (snapshot) => {
            lastReason = undefined;
            apply(snapshot);
          },
          reject,
          report,
          isClosed: () => closed,
          setRetry: (timer) => {
            clearTimeout(retryTimer);
            retryTimer = timer;
          },
        });
        watch = await watchSnapshots(kv, options.pool, onValue, {
          onError: (err) => report(`nats watch on ${bucket}/${options.pool}: ${err.message}`),
          silenceRestartMs: options.silenceRestartMs ?? SNAPSHOT_SILENCE_RESTART_MS,
          ...(options.onWatchRestart === undefined ? {} : { onRestart: options.onWatchRestart }),
        });
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
      clearTimeout(retryTimer);
      await watch?.stop();
      await nc?.close().catch(() => {});
    },
  };
}

export interface AssemblerHooks {
  apply(s: Snapshot): void;
  reject(reason: string, kind: SourceRejectKind): void;
  /** A failure of NATS itself (said once per change of message). */
  report(reason: string): void;
  isClosed(): boolean;
  /** The pending retry timer (replaced on each schedule; cleared by close()). */
  setRetry(timer: NodeJS.Timeout | undefined): void;
}

/**
 * The watch's value handler: checks a value's pool and epoch, applies a single-value snapshot at once, and
 * assembles a manifest from its shards, one manifest at a time, always the newest one seen. A manifest that
 * cannot be completed (a shard missing: `incomplete`; a shard or the whole not matching its digest or
 * fingerprint: `mismatch`) is rejected once and retried with a backoff until it completes or a newer value
 * replaces it; the previous view stays in use meanwhile.
 */
export function manifestAssembler(kv: KV, pool: string, hooks: AssemblerHooks): (raw: string) => void {
  const reader = new ShardedSnapshotReader(pool);
  const backoff = new Backoff({
    initialMs: SHARD_RETRY_MIN_MS,
    maxMs: SHARD_RETRY_MAX_MS,
    multiplier: 2,
    jitterFactor: NATS_CONNECT_RETRY_JITTER,
  });
  let latest: SnapshotManifest | undefined;
  let lastGood: Snapshot | undefined;
  let assembling = false;
  /** The failure already reported for the latest manifest, so retries do not count it again. */
  let reported: string | undefined;

  const retryLater = (): void => {
    const timer = setTimeout(() => void assemble(), backoff.next());
    timer.unref();
    hooks.setRetry(timer);
  };

  const assemble = async (): Promise<void> => {
    if (assembling) return;
    assembling = true;
    try {
      while (latest !== undefined && !hooks.isClosed()) {
        const m = latest;
        let result: Awaited<ReturnType<ShardedSnapshotReader['resolve']>>;
        try {
          result = await reader.resolve(kv, m, lastGood);
        } catch (err) {
          if (latest !== m) continue;
          hooks.report(`nats shards of ${pool}: ${(err as Error).message}; retrying`);
          retryLater();
          return;
        }
        if (latest !== m) continue;
        if (result.ok) {
          latest = undefined;
          reported = undefined;
          backoff.reset();
          // Assembled and validated against lastGood (the last snapshot handed over): RouterState takes
          // it with its changes instead of checking every member again.
          const base = lastGood;
          lastGood = result.snapshot;
          hooks.apply(validatedSnapshot(result.snapshot, { base, changes: result.changes, sum: result.sum }));
          continue;
        }
        if (reported !== result.kind) hooks.reject(`nats key ${pool}: ${result.error}`, result.kind);
        reported = result.kind;
        retryLater();
        return;
      }
    } finally {
      assembling = false;
    }
  };

  return (raw) => {
    const value = parseStoredValue(raw);
    if (value.kind === 'invalid') {
      hooks.reject(`nats key ${pool}: ${value.error}`, 'invalid');
      return;
    }
    const header = value.kind === 'manifest' ? value.manifest : value.snapshot;
    if (header.pool !== pool) {
      hooks.reject(`nats key ${pool}: the snapshot is pool ${JSON.stringify(header.pool)}'s`, 'pool');
      return;
    }
    if (!isPlausibleEpoch(header.epoch, Date.now())) {
      hooks.reject(
        `nats key ${pool}: epoch ${header.epoch} is more than ${MAX_EPOCH_AHEAD_MS} ms ahead of this clock`,
        'future',
      );
      return;
    }
    hooks.setRetry(undefined);
    reported = undefined;
    backoff.reset();
    if (value.kind === 'snapshot') {
      latest = undefined;
      hooks.apply(value.snapshot);
      return;
    }
    latest = value.manifest;
    void assemble();
  };
}
