export { FakeClock } from './fake-clock.ts';
export { findBinary, MissingBinaryError, requireBinary } from './find-binary.ts';
export type {
  JsonObject,
  KubeApiFake,
  KubeApiFakeOptions,
  KubeObject,
  ObjectMeta,
  PodManifestOptions,
  PolicyRule,
  RecordedRequest,
  SimPodLike,
  StatusObject,
} from './kube-fake/index.ts';
export {
  ADMIN_USER,
  APP_LABEL,
  APP_LABEL_VALUE,
  BOOKMARK_INTERVAL_MS,
  BOOTSTRAP_PORT_ANNOTATION,
  DEFAULT_GRACE_SECONDS,
  KUBELET_START_DELAY_MS,
  PORT_ANNOTATION,
  podManifest,
  ROLE_LABEL,
  readManifests,
  registerSimPods,
  renderKubeconfig,
  serviceAccountUser,
  startKubeApiFake,
  WATCH_MAX_SECONDS,
  withReadiness,
} from './kube-fake/index.ts';
export type { Kubectl } from './kubectl.ts';
export { kubectlFor } from './kubectl.ts';
export type { NatsServer, NatsServerOptions } from './nats-server.ts';
export { NATS_START_TIMEOUT_MS, NATS_STOP_GRACE_MS, startNatsServer } from './nats-server.ts';
export type { Sample } from './prometheus-text.ts';
export { matchingSamples, metricSum, parsePrometheusText, sampleValue } from './prometheus-text.ts';
export type { CommandResult } from './run-command.ts';
export { RUN_COMMAND_TIMEOUT_MS, runCommand } from './run-command.ts';
export type { LinePredicate, SpawnedProcess, SpawnOptions, WaitForOptions } from './spawn-process.ts';
export {
  SPAWN_READY_TIMEOUT_MS,
  SPAWN_STOP_GRACE_MS,
  SPAWN_WAIT_FOR_TIMEOUT_MS,
  spawnProcess,
  stopAllProcesses,
} from './spawn-process.ts';
export { canConnect } from './tcp-probe.ts';
export type { WaitOptions } from './wait.ts';
export {
  DEFAULT_WAIT_INTERVAL_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
  StopWaiting,
  sleep,
  WaitTimeoutError,
  waitUntil,
  waitUntilSteady,
  withDeadline,
} from './wait.ts';
