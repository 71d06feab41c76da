export type { KubeConfig } from '@kubernetes/client-node';
export { type Clock, realClock, realSleep, type SleepFn, type TimerHandle, withTimeout } from './clock.ts';
export {
  type DiscoveryConfig,
  discoveryHelp,
  type LogLevel,
  type ParsedArgs,
  parseDiscoveryArgs,
  type RoleSelectors,
} from './config.ts';
export { Debouncer } from './debouncer.ts';
export {
  createDiscovery,
  type Discovery,
  type DiscoveryDeps,
  type DiscoveryState,
  NATS_OPERATION_TIMEOUT_MS,
  WATCH_BACKOFF_JITTER,
} from './discovery.ts';
export { DISCOVERY_FLAGS } from './flags.ts';
export { createHttpServer, type HealthSource, listenHttp } from './http-server.ts';
export { type LeaseClient, leaseClient, loadDefaultKubeConfig, loadKubeConfig, statusCodeOf } from './kube-client.ts';
export {
  LEASE_RENEW_DEADLINE_FRACTION,
  LEASE_RENEW_FRACTION,
  LEASE_RETRY_FRACTION,
  LeaderElector,
  type LeaderElectorOptions,
} from './leader-election.ts';
export { createLogger, errorMessage, type Logger } from './logger.ts';
export { exclusionReason, type MembershipOptions, membersOf, parsePort, podToMember } from './membership.ts';
export { createDiscoveryMetrics, type DiscoveryMetrics } from './metrics.ts';
export { listPodsPaged } from './paged-list.ts';
export {
  DEFAULT_LIST_PAGE_SIZE,
  DEFAULT_WATCH_TIMEOUT_SECS,
  MAX_WATCH_TIMEOUT_SECS,
  MIN_HEALTHY_WATCH_MS,
  PodInformer,
  type PodInformerOptions,
  type WatchRestartReason,
} from './pod-informer.ts';
export {
  type Membership,
  PUBLISH_RETRY_MS,
  type PublisherState,
  SnapshotPublisher,
  type SnapshotPublisherOptions,
  type SnapshotStore,
} from './snapshot-publisher.ts';
