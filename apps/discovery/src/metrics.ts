import { Counter, Gauge, Registry } from 'prom-client';

export interface DiscoveryMetrics {
  readonly registry: Registry;
  readonly members: Gauge<'role'>;
  readonly snapshotsPublished: Counter;
  readonly publishErrors: Counter;
  readonly foreignWrites: Counter;
  readonly stepDowns: Counter;
  readonly watchRestarts: Counter<'role' | 'reason'>;
  readonly apiErrors: Counter<'role'>;
  readonly leader: Gauge;
  readonly lastPublishTime: Gauge;
  readonly snapshotSeq: Gauge;
  readonly snapshotEpoch: Gauge;
  readonly snapshotBytes: Gauge;
  readonly snapshotShards: Gauge;
  readonly snapshotWrites: Counter<'kind'>;
  readonly snapshotWrittenBytes: Counter<'kind'>;
  readonly shardsCollected: Counter;
}

/** One registry per discovery instance (tests run several in a process). */
export function createDiscoveryMetrics(): DiscoveryMetrics {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    members: new Gauge({
      name: 'pdrouter_discovery_members',
      help: 'Current members per role (Running, Ready, with an IP, not terminating).',
      labelNames: ['role'],
      registers,
    }),
    snapshotsPublished: new Counter({
      name: 'pdrouter_discovery_snapshots_published_total',
      help: 'Snapshots written to the KV bucket by this replica (changes and heartbeats).',
      registers,
    }),
    publishErrors: new Counter({
      name: 'pdrouter_discovery_publish_errors_total',
      help: 'Failed snapshot publications (retried).',
      registers,
    }),
    foreignWrites: new Counter({
      name: 'pdrouter_discovery_foreign_writes_total',
      help: 'Snapshot key revisions written by someone other than this leader (each answered with a new epoch).',
      registers,
    }),
    stepDowns: new Counter({
      name: 'pdrouter_discovery_step_downs_total',
      help: 'Times this replica gave up the Lease because it could not publish.',
      registers,
    }),
    watchRestarts: new Counter({
      name: 'pdrouter_discovery_watch_restarts_total',
      help: 'Pod watches re-established, by reason: closed (normal end), expired (410, relisted), error.',
      labelNames: ['role', 'reason'],
      registers,
    }),
    apiErrors: new Counter({
      name: 'pdrouter_discovery_api_errors_total',
      help: 'Kubernetes API list/watch errors (each followed by a backoff).',
      labelNames: ['role'],
      registers,
    }),
    leader: new Gauge({
      name: 'pdrouter_discovery_leader',
      help: '1 while this replica holds the Lease and publishes, else 0.',
      registers,
    }),
    lastPublishTime: new Gauge({
      name: 'pdrouter_discovery_last_publish_timestamp_seconds',
      help: 'Unix time of the last successful publication by this replica.',
      registers,
    }),
    snapshotSeq: new Gauge({
      name: 'pdrouter_discovery_snapshot_seq',
      help: 'Seq of the last snapshot this replica published.',
      registers,
    }),
    snapshotEpoch: new Gauge({
      name: 'pdrouter_discovery_snapshot_epoch',
      help: 'Epoch of the last snapshot this replica published.',
      registers,
    }),
    snapshotBytes: new Gauge({
      name: 'pdrouter_discovery_snapshot_bytes',
      help: 'Size of the last published membership in the sharded encoding (all shards and the manifest), bytes.',
      registers,
    }),
    snapshotShards: new Gauge({
      name: 'pdrouter_discovery_snapshot_shards',
      help: 'Shards the last published manifest lists.',
      registers,
    }),
    snapshotWrites: new Counter({
      name: 'pdrouter_discovery_snapshot_writes_total',
      help: 'KV values written for snapshots, by kind: manifest (one per publication) or shard (only shards whose members changed).',
      labelNames: ['kind'],
      registers,
    }),
    snapshotWrittenBytes: new Counter({
      name: 'pdrouter_discovery_snapshot_written_bytes_total',
      help: 'Bytes of the KV values written for snapshots, by kind (manifest, shard).',
      labelNames: ['kind'],
      registers,
    }),
    shardsCollected: new Counter({
      name: 'pdrouter_discovery_shards_collected_total',
      help: 'Shards no manifest referenced any more, purged from the bucket after their grace period.',
      registers,
    }),
  };
}
