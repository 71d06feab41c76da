import { hostname } from 'node:os';
import { flagParser, helpText, UsageError } from '@pdrouter/cli';
import { DISCOVERY_FLAGS } from './flags.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface RoleSelectors {
  readonly prefill?: string;
  readonly decode?: string;
  readonly plain?: string;
}

export interface DiscoveryConfig {
  readonly namespace: string;
  readonly selectors: RoleSelectors;
  readonly targetPort: number;
  readonly portAnnotation: string;
  readonly bootstrapPortAnnotation: string;
  readonly pool: string;
  readonly kubeconfig?: string;
  readonly watchBackoffMinMs: number;
  readonly watchBackoffMaxMs: number;
  readonly watchTimeoutSecs: number;
  readonly listPageSize: number;
  readonly leaseName: string;
  readonly leaseNamespace: string;
  readonly leaseDurationMs: number;
  readonly identity: string;
  readonly natsUrl: string;
  readonly natsCreds?: string;
  readonly natsTls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
  readonly bucket: string;
  readonly debounceMs: number;
  readonly heartbeatMs: number;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly logLevel: LogLevel;
}

export type ParsedArgs = { help: true } | { help: false; config: DiscoveryConfig };

const parser = flagParser(DISCOVERY_FLAGS);

/** Parses argv (without node and script) and the environment into one frozen config; throws UsageError. */
export function parseDiscoveryArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): ParsedArgs {
  const { values: v } = parser.parse(argv, env);
  if (v.help) return { help: true };
  const selectors: RoleSelectors = Object.freeze({
    ...(v['prefill-selector'] === undefined ? {} : { prefill: v['prefill-selector'] }),
    ...(v['decode-selector'] === undefined ? {} : { decode: v['decode-selector'] }),
    ...(v['plain-selector'] === undefined ? {} : { plain: v['plain-selector'] }),
  });
  if (selectors.prefill === undefined && selectors.decode === undefined && selectors.plain === undefined) {
    throw new UsageError('give at least one of --prefill-selector/--decode-selector (P/D) or --plain-selector');
  }
  if ((selectors.prefill === undefined) !== (selectors.decode === undefined)) {
    throw new UsageError('--prefill-selector and --decode-selector go together (a P/D pool needs both roles)');
  }
  const natsUrl = v['nats-url'];
  if (natsUrl === undefined) throw new UsageError('--nats-url (or NATS_URL) is required');
  const logLevel: LogLevel = v['log-level'];
  const backoffMin = v['watch-backoff-min-ms'];
  const backoffMax = v['watch-backoff-max-ms'];
  if (backoffMax < backoffMin) throw new UsageError('--watch-backoff-max-ms must be >= --watch-backoff-min-ms');
  const namespace = v.namespace;
  const kubeconfig = v.kubeconfig;
  const natsCreds = v['nats-creds'];
  const tlsCa = v['nats-tls-ca'];
  const tlsCert = v['nats-tls-cert'];
  const tlsKey = v['nats-tls-key'];
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new UsageError('--nats-tls-cert and --nats-tls-key go together');
  }
  const natsTls =
    tlsCa === undefined && tlsCert === undefined
      ? undefined
      : Object.freeze({
          ...(tlsCa === undefined ? {} : { caFile: tlsCa }),
          ...(tlsCert === undefined ? {} : { certFile: tlsCert }),
          ...(tlsKey === undefined ? {} : { keyFile: tlsKey }),
        });

  const config: DiscoveryConfig = {
    namespace,
    selectors,
    targetPort: v['target-port'],
    portAnnotation: v['port-annotation'],
    bootstrapPortAnnotation: v['bootstrap-port-annotation'],
    pool: v.pool,
    ...(kubeconfig === undefined ? {} : { kubeconfig }),
    watchBackoffMinMs: backoffMin,
    watchBackoffMaxMs: backoffMax,
    watchTimeoutSecs: v['watch-timeout-secs'],
    listPageSize: v['list-page-size'],
    leaseName: v['lease-name'],
    leaseNamespace: v['lease-namespace'] ?? namespace,
    leaseDurationMs: Math.round(v['lease-duration-secs'] * 1000),
    identity: v.identity ?? `${hostname()}-${process.pid}`,
    natsUrl,
    ...(natsCreds === undefined ? {} : { natsCreds }),
    ...(natsTls === undefined ? {} : { natsTls }),
    bucket: v.bucket,
    debounceMs: v['debounce-ms'],
    heartbeatMs: Math.round(v['heartbeat-secs'] * 1000),
    httpHost: v['http-host'],
    httpPort: v['http-port'],
    logLevel,
  };
  return { help: false, config: Object.freeze(config) };
}

/** `--help` text, built from the same table as the parser. */
export function discoveryHelp(): string {
  return helpText(
    [
      'pdrouter discovery: watches vLLM pods in Kubernetes and publishes the pool snapshot to NATS (leader only).',
      '',
      'Usage: node apps/discovery/src/main.ts --prefill-selector SEL --decode-selector SEL --nats-url URL [flags]',
      '',
    ],
    [{ title: 'Flags:', flags: DISCOVERY_FLAGS }],
  );
}
