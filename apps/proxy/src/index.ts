// The public surface of @pdrouter/proxy: build a proxy in-process, its flags, and the membership seam.
export type { AppDeps } from './app.ts';
export { createApp, isReady } from './app.ts';
export type {
  ConfigIo,
  HealthConfig,
  LogLevel,
  MembershipConfig,
  Policy,
  PrefillArg,
  ProxyConfig,
  ProxyMode,
  TimeoutsConfig,
} from './config.ts';
export { buildConfig } from './config.ts';
export { fileSnapshotSource, SNAPSHOT_FILE_POLL_INTERVAL_MS } from './file-snapshot-source.ts';
export type { ParsedFlags, ProxyFlagValues } from './flags.ts';
export { helpText, POLICIES, PROXY_FLAG_GROUPS, PROXY_FLAGS, parseFlags, REFUSED_POLICIES } from './flags.ts';
export type { LoadShareOptions, LoadShareState } from './load-share.ts';
export { LoadShare } from './load-share.ts';
export type { LogFields, Logger } from './logger.ts';
export { createLogger, silentLogger } from './logger.ts';
export { type MetricDefinition, ProxyMetrics } from './metrics.ts';
export type { Pick, PickerOptions, PodView, ScoringSettings } from './policies.ts';
export { Picker, SCORING_CANDIDATES, usesHash } from './policies.ts';
export type { ProxyInstance, ProxyOptions } from './proxy.ts';
export { createProxy } from './proxy.ts';
export type { ApplyResult, RoutingTable } from './router-state.ts';
export { RouterState } from './router-state.ts';
export type { SnapshotSource } from './snapshot-source.ts';
export { staticSnapshotSource } from './snapshot-source.ts';
