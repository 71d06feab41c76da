import { writeFileSync } from 'node:fs';

export interface KubeconfigParams {
  server: string;
  token: string;
  namespace: string;
  /** PEM CA of an https server (certificate-authority-data); without it TLS verification is skipped. */
  caCert?: string;
  /** Context, cluster and user name. */
  name?: string;
}

/**
 * A kubeconfig (YAML) for a bearer-token user, readable by kubectl and client-node. The fake serves
 * https, since kubectl sends no token to a plain-http server.
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
    p.caCert === undefined
      ? '    insecure-skip-tls-verify: true'
      : `    certificate-authority-data: ${Buffer.from(p.caCert).toString('base64')}`,
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
