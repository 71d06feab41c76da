export {
  connectionOfBucket,
  DEFAULT_SNAPSHOT_BUCKET,
  DEFAULT_SNAPSHOT_HISTORY,
  isWrongLastSequence,
  type OpenSnapshotBucketOptions,
  openSnapshotBucket,
  type PublishOptions,
  publishSnapshot,
  RevisionConflictError,
  readSnapshot,
  type StoredSnapshot,
} from './bucket.ts';
export {
  type ConnectNatsOptions,
  connectNats,
  NATS_CONNECT_TIMEOUT_MS,
  NATS_MAX_PINGS_OUT,
  NATS_PING_INTERVAL_MS,
  NATS_RECONNECT_JITTER_MS,
  NATS_RECONNECT_WAIT_MS,
} from './connect.ts';
export { DEFAULT_INBOX_PREFIX, inboxPrefixOfCreds } from './inbox-prefix.ts';
export {
  type ResolveResult,
  readAssembledSnapshot,
  SHARD_GC_GRACE_MS,
  type ShardedPublishReport,
  ShardedSnapshotReader,
  ShardedSnapshotWriter,
  type ShardGcReport,
  shardKey,
  shardKeyFilter,
} from './shards.ts';
export { type NatsSnapshotLocation, parseNatsSnapshotUrl } from './snapshot-url.ts';
export {
  type SnapshotWatch,
  WATCH_RETRY_JITTER,
  WATCH_RETRY_MAX_MS,
  WATCH_RETRY_MIN_MS,
  type WatchRestartCause,
  type WatchSnapshotsOptions,
  watchSnapshots,
} from './watch.ts';
