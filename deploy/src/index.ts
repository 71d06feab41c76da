// The public surface of @pdrouter/deploy: the manifest renderer, NATS credentials, the Grafana dashboard
// and the generated docs. The command-line entry points are in scripts/.
export { buildDashboard, dashboardJson } from './dashboard/grafana.ts';
export { metricNamesIn, metricsUsed, type PanelKind, type PanelSpec, ROWS } from './dashboard/panels.ts';
export { BIOME_FORMAT_TIMEOUT_MS, biomeFormat } from './docs/biome-format.ts';
export { CONFIG_DOC_PATH, configurationMarkdown } from './docs/config-docs.ts';
export {
  definitionsOf,
  METRICS_DOC_PATH,
  type MetricDefinition,
  type MetricLike,
  metricsMarkdown,
} from './docs/metrics-docs.ts';
export {
  ACCOUNT_MAX_DISK_BYTES,
  ACCOUNT_MAX_MEMORY_BYTES,
  DEFAULT_BUCKET,
  generateNatsAuth,
  type NatsAuth,
  type NatsAuthOptions,
} from './nats-auth/generate.ts';
export { publisherPermissions, readerPermissions, type SubjectPermissions } from './nats-auth/permissions.ts';
export { NATS_SECRETS, natsSecretsYaml } from './nats-auth/secrets.ts';
export {
  ensureRenderer,
  KUBECTL_VERSION_TIMEOUT_MS,
  kubectlVersions,
  RENDERER_DIR,
  rendererPackageDir,
  rendererPath,
} from './renderer/install.ts';
export { KUBECTL_PACKAGE } from './renderer/kubectl-package.ts';
export { type K8sObject, KUSTOMIZE_TIMEOUT_MS, parseObjects, render, renderYaml } from './renderer/render.ts';
