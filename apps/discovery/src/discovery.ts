import type { Server } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Member, Role } from '@pdrouter/core';
import {
  connectNats,
  openSnapshotBucket,
  RevisionConflictError,
  readSnapshot,
  SHARD_GC_GRACE_MS,
  ShardedSnapshotWriter,
} from '@pdrouter/nats-snapshots';
import { type Clock, realClock } from './clock.ts';
import type { DiscoveryConfig } from './config.ts';
import { Debouncer } from './debouncer.ts';
import { createHttpServer, listenHttp } from './http-server.ts';
import { leaseClient, loadKubeConfig } from './kube-client.ts';
import { LeaderElector } from './leader-election.ts';
import { errorMessage, type Logger } from './logger.ts';
import { membersOf } from './membership.ts';
import { createDiscoveryMetrics, type DiscoveryMetrics } from './metrics.ts';
import { PodInformer } from './pod-informer.ts';
import { type Membership, SnapshotPublisher, type SnapshotStore } from './snapshot-publisher.ts';

/** Deadline of one bucket read or write, so a hung NATS call cannot stall publishing or shutdown. */
export const NATS_OPERATION_TIMEOUT_MS = 5_000;
/** Unreferenced shards are looked for at most this often (after a publication, heartbeats included). */
export const SHARD_GC_INTERVAL_MS = SHARD_GC_GRACE_MS / 4;

const ROLES: readonly Role[] = ['prefill', 'decode', 'plain'];

export interface DiscoveryDeps {
  readonly logger: Logger;
  readonly kubeConfig?: KubeConfig;
  /** Time for leases, debounce, backoff and heartbeats (tests pass a fake one). */
  readonly clock?: Clock;
  /** Jitter draws of the watch backoff (tests pin them). */
  readonly random?: () => number;
}

export interface Discovery {
  readonly metrics: DiscoveryMetrics;
  /** Starts watching, campaigning and serving HTTP; resolves with the HTTP base URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
  state(): DiscoveryState;
}

export interface DiscoveryState {
  identity: string;
  pool: string;
  leader: boolean;
  synced: boolean;
  natsConnected: boolean;
  epoch: number | undefined;
  seq: number;
  fingerprint: string | undefined;
  lastPublishAt: string | undefined;
  members: Record<Role, string[]>;
}

/** Each watch backoff delay is drawn within +-this fraction of the doubling base. */
export const WATCH_BACKOFF_JITTER = 0.2;

export function createDiscovery(config: DiscoveryConfig, deps: DiscoveryDeps): Discovery {
  const log = deps.logger;
  const clock = deps.clock ?? realClock;
  const kc = deps.kubeConfig ?? loadKubeConfig(config.kubeconfig);
  const metrics = createDiscoveryMetrics();
  const membershipOptions = {
    targetPort: config.targetPort,
    portAnnotation: config.portAnnotation,
    bootstrapPortAnnotation: config.bootstrapPortAnnotation,
  };

  let nc: NatsConnection | undefined;
  let natsConnected = false;
  let kv: Promise<KV> | undefined;
  const connecting = connectNats({
    url: config.natsUrl,
    name: `pdrouter-discovery-${config.identity}`,
    waitOnFirstConnect: true,
    ...(config.natsCreds === undefined ? {} : { credsFile: config.natsCreds }),
    ...(config.natsTls === undefined ? {} : { tls: config.natsTls }),
  });
  const bucket = async (): Promise<KV> => {
    kv ??= (async () => {
      const conn = await connecting;
      return openSnapshotBucket(conn, { bucket: config.bucket });
    })();
    try {
      return await kv;
    } catch (err) {
      kv = undefined;
      throw err;
    }
  };
  // Any failure drops the bucket handle: the next attempt opens (and if need be re-creates) it again.
  const guarded = async <T>(what: string, op: (b: KV) => Promise<T>): Promise<T> => {
    try {
      return await withTimeout(bucket().then(op), NATS_OPERATION_TIMEOUT_MS, `${what} in bucket ${config.bucket}`);
    } catch (err) {
      kv = undefined;
      throw err;
    }
  };
  // The pool key holds a manifest, the members are in shards (docs/design.md §4.2): a publication writes
  // only the shards that changed, then the manifest; now and then unreferenced shards are purged.
  const writer = new ShardedSnapshotWriter(config.pool, { now: () => clock.now() });
  let lastGcAt = Number.NEGATIVE_INFINITY;
  const collectShards = async (b: KV): Promise<void> => {
    if (clock.now() - lastGcAt < SHARD_GC_INTERVAL_MS) return;
    lastGcAt = clock.now();
    try {
      const gc = await withTimeout(
        writer.collect(b),
        NATS_OPERATION_TIMEOUT_MS,
        `shard collection in bucket ${config.bucket}`,
      );
      metrics.shardsCollected.inc(gc.purged);
      if (gc.purged > 0) log.debug('unreferenced shards purged', { purged: gc.purged, pending: gc.pending });
    } catch (err) {
      log.warn('shard collection failed; retrying later', { error: errorMessage(err) });
    }
  };
  const store: SnapshotStore = {
    readCurrent: () =>
      guarded('read', async (b) => {
        // Read at the start of a term and after a foreign write: what is stored is learned again.
        writer.forget();
        const stored = await readSnapshot(b, config.pool);
        return stored === undefined ? undefined : { raw: stored.raw, revision: stored.revision };
      }),
    put: async (s, previousRevision) => {
      const result = await guarded('publish', async (b) => {
        try {
          const report = await writer.publish(b, s, previousRevision);
          metrics.snapshotWrites.inc({ kind: 'manifest' });
          metrics.snapshotWrittenBytes.inc({ kind: 'manifest' }, report.manifestBytes);
          if (report.shardsWritten > 0) {
            metrics.snapshotWrites.inc({ kind: 'shard' }, report.shardsWritten);
            metrics.snapshotWrittenBytes.inc({ kind: 'shard' }, report.shardBytes);
          }
          metrics.snapshotBytes.set(report.snapshotBytes);
          metrics.snapshotShards.set(report.shards);
          return { revision: report.revision, bucket: b };
        } catch (err) {
          if (err instanceof RevisionConflictError) return 'conflict' as const;
          throw err;
        }
      });
      if (result === 'conflict') return result;
      await collectShards(result.bucket);
      return { revision: result.revision };
    },
  };

  let lastMembers: Membership | undefined;
  const publisher = new SnapshotPublisher({
    pool: config.pool,
    store,
    heartbeatMs: config.heartbeatMs,
    onPublished: (s, fingerprint) => {
      metrics.snapshotsPublished.inc();
      metrics.lastPublishTime.set(Date.now() / 1000);
      metrics.snapshotSeq.set(s.seq);
      metrics.snapshotEpoch.set(s.epoch);
      log.debug('snapshot published', { pool: s.pool, epoch: s.epoch, seq: s.seq, fingerprint });
    },
    onError: (err) => {
      metrics.publishErrors.inc();
      log.warn('snapshot publication failed; retrying', { error: errorMessage(err) });
    },
    onForeignWrite: (found, newEpoch) => {
      metrics.foreignWrites.inc();
      log.warn('the snapshot key was written by someone else; publishing over it with a new epoch', {
        key: config.pool,
        revision: found.revision,
        foundEpoch: found.epoch,
        newEpoch,
      });
    },
    stepDownAfterMs: config.leaseDurationMs,
    onCannotWrite: (reason) => {
      metrics.stepDowns.inc();
      log.error('cannot publish snapshots: stepping down and releasing the Lease', { reason });
      void elector.resign();
    },
  });

  const informers = new Map<Role, PodInformer>();
  const recompute = (): void => {
    if (![...informers.values()].every((i) => i.synced)) return;
    const next: Record<Role, Member[]> = { prefill: [], decode: [], plain: [] };
    for (const [role, informer] of informers) next[role] = membersOf(informer.pods(), membershipOptions);
    for (const role of ROLES) {
      metrics.members.set({ role }, next[role].length);
      const before = new Set(lastMembers?.[role].map((m) => m.name) ?? []);
      const after = new Set(next[role].map((m) => m.name));
      const joined = [...after].filter((n) => !before.has(n));
      const left = [...before].filter((n) => !after.has(n));
      if (joined.length > 0 || left.length > 0)
        log.info('membership changed', { role, joined, left, count: after.size });
    }
    lastMembers = next;
    publisher.setMembers(next);
  };
  const debouncer = new Debouncer(config.debounceMs, recompute, clock);

  for (const role of ROLES) {
    const selector = config.selectors[role];
    if (selector === undefined) continue;
    informers.set(
      role,
      new PodInformer({
        kubeConfig: kc,
        namespace: config.namespace,
        labelSelector: selector,
        watchTimeoutSecs: config.watchTimeoutSecs,
        listPageSize: config.listPageSize,
        onChange: () => debouncer.trigger(),
        backoff: {
          initialMs: config.watchBackoffMinMs,
          maxMs: config.watchBackoffMaxMs,
          multiplier: 2,
          jitterFactor: WATCH_BACKOFF_JITTER,
          ...(deps.random === undefined ? {} : { random: deps.random }),
        },
        clock,
        onWatchRestart: (reason) => {
          metrics.watchRestarts.inc({ role, reason });
          if (reason !== 'closed') log.info('pod watch restarted', { role, reason });
        },
        onError: (err, nextDelayMs) => {
          metrics.apiErrors.inc({ role });
          log.warn('Kubernetes API error; backing off', { role, error: errorMessage(err), retryInMs: nextDelayMs });
        },
      }),
    );
  }

  const elector = new LeaderElector({
    client: leaseClient(kc, config.leaseNamespace, config.leaseName),
    leaseName: config.leaseName,
    identity: config.identity,
    leaseDurationMs: config.leaseDurationMs,
    clock,
    onStartedLeading: () => {
      metrics.leader.set(1);
      log.info('became leader', { identity: config.identity, lease: config.leaseName });
      publisher.setLeader(true);
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      log.info('stopped leading', { identity: config.identity, lease: config.leaseName });
      publisher.setLeader(false);
    },
    onError: (err) => log.warn('lease update failed', { error: errorMessage(err) }),
  });

  const state = (): DiscoveryState => {
    const p = publisher.state();
    const names = (role: Role) => lastMembers?.[role].map((m) => m.name) ?? [];
    return {
      identity: config.identity,
      pool: config.pool,
      leader: p.leader,
      synced: [...informers.values()].every((i) => i.synced),
      natsConnected,
      epoch: p.epoch,
      seq: p.seq,
      fingerprint: p.fingerprint,
      lastPublishAt: p.lastPublishAt === undefined ? undefined : new Date(p.lastPublishAt).toISOString(),
      members: { prefill: names('prefill'), decode: names('decode'), plain: names('plain') },
    };
  };

  let server: Server | undefined;
  let stopped = false;
  return {
    metrics,
    state,
    async start() {
      server = createHttpServer(
        {
          ready: () => {
            const reasons: string[] = [];
            for (const [role, informer] of informers) if (!informer.synced) reasons.push(`${role} pods not listed yet`);
            if (!natsConnected) reasons.push('not connected to NATS');
            return { ready: reasons.length === 0, reasons };
          },
          state,
        },
        metrics.registry,
      );
      const url = await listenHttp(server, config.httpHost, config.httpPort);
      for (const informer of informers.values()) informer.start();
      elector.start();
      void connecting.then(
        async (conn) => {
          nc = conn;
          natsConnected = true;
          log.info('connected to NATS', { server: conn.getServer() });
          for await (const s of conn.status()) {
            if (s.type === 'disconnect') natsConnected = false;
            if (s.type === 'reconnect') natsConnected = true;
            if (s.type === 'disconnect' || s.type === 'reconnect') log.info(`NATS ${s.type}`, {});
          }
        },
        (err: unknown) => log.error('NATS connection failed', { error: errorMessage(err) }),
      );
      return url;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      debouncer.cancel();
      await elector.stop();
      await publisher.stop();
      await Promise.all([...informers.values()].map((i) => i.stop()));
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
      // A connection still being attempted is closed as soon as it opens.
      void connecting.then((c) => c.close()).catch(() => {});
      if (nc !== undefined) await nc.close().catch(() => {});
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
