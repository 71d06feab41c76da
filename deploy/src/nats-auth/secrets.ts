import { stringify } from 'yaml';
import type { NatsAuth } from './generate.ts';

/** The Secret names the manifests mount (base/nats, base/discovery, base/proxy). */
export const NATS_SECRETS = Object.freeze({
  config: { name: 'pdrouter-nats-config', key: 'nats.conf' },
  discovery: { name: 'pdrouter-nats-discovery', key: 'nats.creds' },
  proxy: { name: 'pdrouter-nats-proxy', key: 'nats.creds' },
});

function secret(name: string, key: string, value: string, namespace: string | undefined): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      ...(namespace === undefined ? {} : { namespace }),
      labels: { 'app.kubernetes.io/name': 'pdrouter', 'app.kubernetes.io/part-of': 'pdrouter' },
    },
    type: 'Opaque',
    stringData: { [key]: value },
  };
}

/** The three Secrets as one YAML stream for `kubectl apply -f -`. */
export function natsSecretsYaml(auth: NatsAuth, namespace?: string): string {
  return [
    secret(NATS_SECRETS.config.name, NATS_SECRETS.config.key, auth.serverConfig, namespace),
    secret(NATS_SECRETS.discovery.name, NATS_SECRETS.discovery.key, auth.discoveryCreds, namespace),
    secret(NATS_SECRETS.proxy.name, NATS_SECRETS.proxy.key, auth.proxyCreds, namespace),
  ]
    .map((s) => stringify(s, { lineWidth: 0 }))
    .join('---\n');
}
