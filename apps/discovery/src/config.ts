import { hostname } from 'node:os';
import { DISCOVERY_FLAGS, type DiscoveryFlagSpec } from './flags.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

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

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type ParsedArgs = { help: true } | { help: false; config: DiscoveryConfig };

type RawValue = string | number | boolean;

/** Parses argv (without node and script) and the environment into one frozen config; throws ConfigError. */
export function parseDiscoveryArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): ParsedArgs {
  const byName = new Map(DISCOVERY_FLAGS.map((f) => [f.name, f]));
  const given = new Map<string, RawValue>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--'))
      throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (flags start with --)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = byName.get(name);
    if (spec === undefined) throw new ConfigError(`unknown flag --${name} (see --help)`);
    let text: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    if (spec.type === 'bool') {
      given.set(name, text === undefined ? true : parseBool(spec, text));
      continue;
    }
    if (text === undefined) {
      text = argv[i + 1];
      if (text === undefined) throw new ConfigError(`--${name} needs a value`);
      i++;
    }
    given.set(name, convert(spec, text));
  }
  if (given.get('help') === true) return { help: true };
  for (const spec of DISCOVERY_FLAGS) {
    if (given.has(spec.name) || spec.env === undefined) continue;
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') given.set(spec.name, convert(spec, fromEnv, spec.env));
  }
  const value = (name: string): RawValue | undefined => given.get(name) ?? byName.get(name)?.default;
  const str = (name: string): string | undefined => {
    const v = value(name);
    return v === undefined ? undefined : String(v);
  };
  const num = (name: string): number => Number(value(name));

  const selectors: RoleSelectors = Object.freeze({
    ...(str('prefill-selector') === undefined ? {} : { prefill: str('prefill-selector') }),
    ...(str('decode-selector') === undefined ? {} : { decode: str('decode-selector') }),
    ...(str('plain-selector') === undefined ? {} : { plain: str('plain-selector') }),
  });
  if (selectors.prefill === undefined && selectors.decode === undefined && selectors.plain === undefined) {
    throw new ConfigError('give at least one of --prefill-selector/--decode-selector (P/D) or --plain-selector');
  }
  if ((selectors.prefill === undefined) !== (selectors.decode === undefined)) {
    throw new ConfigError('--prefill-selector and --decode-selector go together (a P/D pool needs both roles)');
  }
  const natsUrl = str('nats-url');
  if (natsUrl === undefined) throw new ConfigError('--nats-url (or NATS_URL) is required');
  const logLevel = str('log-level') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const backoffMin = num('watch-backoff-min-ms');
  const backoffMax = num('watch-backoff-max-ms');
  if (backoffMax < backoffMin) throw new ConfigError('--watch-backoff-max-ms must be >= --watch-backoff-min-ms');
  const namespace = str('namespace') as string;
  const kubeconfig = str('kubeconfig');
  const natsCreds = str('nats-creds');
  const tlsCa = str('nats-tls-ca');
  const tlsCert = str('nats-tls-cert');
  const tlsKey = str('nats-tls-key');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError('--nats-tls-cert and --nats-tls-key go together');
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
    targetPort: num('target-port'),
    portAnnotation: str('port-annotation') as string,
    bootstrapPortAnnotation: str('bootstrap-port-annotation') as string,
    pool: str('pool') as string,
    ...(kubeconfig === undefined ? {} : { kubeconfig }),
    watchBackoffMinMs: backoffMin,
    watchBackoffMaxMs: backoffMax,
    watchTimeoutSecs: num('watch-timeout-secs'),
    leaseName: str('lease-name') as string,
    leaseNamespace: str('lease-namespace') ?? namespace,
    leaseDurationMs: Math.round(num('lease-duration-secs') * 1000),
    identity: str('identity') ?? `${hostname()}-${process.pid}`,
    natsUrl,
    ...(natsCreds === undefined ? {} : { natsCreds }),
    ...(natsTls === undefined ? {} : { natsTls }),
    bucket: str('bucket') as string,
    debounceMs: num('debounce-ms'),
    heartbeatMs: Math.round(num('heartbeat-secs') * 1000),
    httpHost: str('http-host') as string,
    httpPort: num('http-port'),
    logLevel,
  };
  return { help: false, config: Object.freeze(config) };
}

function parseBool(spec: DiscoveryFlagSpec, text: string): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new ConfigError(`--${spec.name} takes true or false, got ${JSON.stringify(text)}`);
}

function convert(spec: DiscoveryFlagSpec, text: string, fromEnv?: string): RawValue {
  const where = fromEnv === undefined ? `--${spec.name}` : `${fromEnv} (for --${spec.name})`;
  const shown = spec.secret ? '(hidden)' : JSON.stringify(text);
  switch (spec.type) {
    case 'bool':
      return parseBool(spec, text);
    case 'string':
      if (text === '') throw new ConfigError(`${where} may not be empty`);
      return text;
    case 'int':
    case 'number': {
      const n = Number(text);
      const ok = text.trim() !== '' && Number.isFinite(n) && (spec.type === 'number' || Number.isInteger(n));
      if (!ok)
        throw new ConfigError(`${where} must be ${spec.type === 'int' ? 'an integer' : 'a number'}, got ${shown}`);
      if (spec.min !== undefined && n < spec.min)
        throw new ConfigError(`${where} must be >= ${spec.min}, got ${shown}`);
      return n;
    }
  }
}

/** `--help` text, built from the same table as the parser. */
export function discoveryHelp(): string {
  const lines = [
    'pdrouter discovery: watches vLLM pods in Kubernetes and publishes the pool snapshot to NATS (leader only).',
    '',
    'Usage: node apps/discovery/src/main.ts --prefill-selector SEL --decode-selector SEL --nats-url URL [flags]',
    '',
    'Flags:',
  ];
  for (const f of DISCOVERY_FLAGS) {
    const head = `  --${f.name}${f.type === 'bool' ? '' : ` ${f.valueName ?? f.type.toUpperCase()}`}`;
    const extras = [
      f.default !== undefined && f.type !== 'bool' ? `default ${f.default}` : undefined,
      f.env === undefined ? undefined : `env ${f.env}`,
    ].filter((x) => x !== undefined);
    lines.push(head, `      ${f.help}${extras.length > 0 ? ` [${extras.join('; ')}]` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
