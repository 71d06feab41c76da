import { writeFileSync } from 'node:fs';

export interface KubeconfigParams {
  server: string;
  token: string;
  namespace: string;
  /** Context, cluster and user name. */
  name?: string;
}

/**
 * A kubeconfig (YAML) for a plain-HTTP server and a bearer-token user, readable by kubectl and
 * client-node. kubectl sends no token over http; client-node does.
 */
export function renderKubeconfig(p: KubeconfigParams): string {
  const name = p.name ?? 'pdrouter-fake';
  const q = (s: string) => JSON.stringify(s);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${q(name)}`,
    '  cluster:',
    `    server: ${q(p.server)}`,
    // @kubernetes/client-node refuses plain http unless TLS verification is explicitly off.
    '    insecure-skip-tls-verify: true',
    'users:',
    `- name: ${q(name)}`,
    '  user:',
    `    token: ${q(p.token)}`,
    'contexts:',
    `- name: ${q(name)}`,
    '  context:',
    `    cluster: ${q(name)}`,
    `    user: ${q(name)}`,
    `    namespace: ${q(p.namespace)}`,
    `current-context: ${q(name)}`,
    'preferences: {}',
    '',
  ].join('\n');
}

export function writeKubeconfigFile(path: string, p: KubeconfigParams): string {
  writeFileSync(path, renderKubeconfig(p), { mode: 0o600 });
  return path;
}
