export type { KubeApiFake, KubeApiFakeOptions, RecordedRequest } from './fake.ts';
export {
  BOOKMARK_INTERVAL_MS,
  DEFAULT_GRACE_SECONDS,
  KUBELET_START_DELAY_MS,
  startKubeApiFake,
  WATCH_MAX_SECONDS,
} from './fake.ts';
export { renderKubeconfig } from './kubeconfig.ts';
export { readManifests } from './manifests.ts';
export type { PodManifestOptions } from './pods.ts';
export {
  APP_LABEL,
  APP_LABEL_VALUE,
  BOOTSTRAP_PORT_ANNOTATION,
  PORT_ANNOTATION,
  podManifest,
  ROLE_LABEL,
  withReadiness,
} from './pods.ts';
export type { PolicyRule } from './rbac.ts';
export { ADMIN_USER, serviceAccountUser } from './rbac.ts';
export type { SimPodLike } from './sim-pods.ts';
export { registerSimPods } from './sim-pods.ts';
export type { StatusObject } from './status.ts';
export type { JsonObject, KubeObject, ObjectMeta } from './types.ts';
