// The proxy's configuration: parsed once from the flags into a frozen, typed object.
import { readFileSync } from 'node:fs';
import type { HashKeyMode, VllmRouterKind } from '@pdrouter/core';
import {
  FlagError,
  type FlagValue,
  type ParsedFlags,
  type POLICIES,
  type PrefillArg,
  UNSUPPORTED_POLICIES,
} from './flags.ts';

export type Policy = (typeof POLICIES)[number];
export type ProxyMode = 'pd' | 'plain';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type MembershipConfig =
  | {
      readonly kind: 'static';
      readonly prefill: readonly PrefillArg[];
      readonly decode: readonly string[];
      readonly plain: readonly string[];
    }
  | { readonly kind: 'file'; readonly path: string }
  | {
      readonly kind: 'nats';
      readonly url: string;
      readonly credsFile?: string;
      readonly bucket: string;
      readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
    };

export interface TimeoutsConfig {
  readonly connectMs: number;
  /** Sending a leg until its response headers. */
  readonly firstByteMs: number;
  /** Longest gap between two body chunks. */
  readonly idleMs: number;
  /** The whole request, both legs and the stream. */
  readonly totalMs: number;
  readonly keepAliveMs: number;
  /** Receiving a client's request body (after its headers). */
  readonly clientBodyMs: number;
}

export interface HealthConfig {
  readonly enabled: boolean;
  readonly ejectAfterFailures: number;
  readonly probeBaseMs: number;
  readonly probeMaxMs: number;
  readonly probePath: string;
  readonly probeTimeoutMs: number;
}

export interface AdmissionSettings {
  readonly maxConcurrent: number;
  readonly queueSize: number;
  readonly queueTimeoutMs: number;
  readonly ratePerSecond?: number;
}

export interface ProxyConfig {
  readonly mode: ProxyMode;
  readonly membership: MembershipConfig;
  readonly pool: string;
  readonly prefillPolicy: Policy;
  readonly decodePolicy: Policy;
  /** Plain mode uses --policy. */
  readonly plainPolicy: Policy;
  readonly hashKeyMode: HashKeyMode;
  /** vllm-router mode: the vllm-router router whose keys are reproduced (from the mode flags). */
  readonly vllmRouterKind: VllmRouterKind;
  readonly hashPrefixBytes?: number;
  readonly virtualNodes: number;
  readonly boundedLoadFactor: number;
  /** Data-parallel ranks per static URL (vllm-router's --intra-node-data-parallel-size). */
  readonly dataParallelSize: number;
  readonly host: string;
  readonly port: number;
  readonly prometheusHost: string;
  readonly prometheusPort: number;
  readonly timeouts: TimeoutsConfig;
  /** undefined: unlimited. */
  readonly connectionsPerPod?: number;
  readonly maxPayloadBytes: number;
  readonly backendApiKey?: string;
  readonly ingressApiKeys: readonly string[];
  readonly logLevel: LogLevel;
  /** Pods tried after the first one, per leg. */
  readonly maxFailovers: number;
  readonly health: HealthConfig;
  readonly decodeOnlyFallback: boolean;
  readonly admission: AdmissionSettings;
  readonly drainTimeoutMs: number;
  readonly modelsCacheMs: number;
  /** Things the operator should know at start-up (accepted-only flags, substitutions). */
  readonly warnings: readonly string[];
}

export interface ConfigIo {
  readFile(path: string): string;
}

const defaultIo: ConfigIo = { readFile: (path) => readFileSync(path, 'utf8') };

function validUrl(flag: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FlagError(`${flag}: ${JSON.stringify(raw)} is not a URL (expected http://host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FlagError(`${flag}: ${JSON.stringify(raw)} must be an http:// or https:// URL`);
  }
  // Pods are identified (ring, metrics) by scheme://host:port, as vllm-router does; a path would not
  // survive that, so it is refused rather than dropped.
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new FlagError(
      `${flag}: ${JSON.stringify(raw)} must be scheme://host[:port] with no path, query or credentials`,
    );
  }
  return url.origin;
}

function positive(flag: string, n: number, allowZero = false): number {
  if (!(allowZero ? n >= 0 : n > 0)) throw new FlagError(`--${flag} must be ${allowZero ? '>= 0' : '> 0'}, got ${n}`);
  return n;
}

function policyOf(raw: FlagValue, flag: string, warnings: string[]): Policy {
  const name = String(raw);
  if ((UNSUPPORTED_POLICIES as readonly string[]).includes(name)) {
    warnings.push(`--${flag} ${name} is not supported: routing with consistent_hash`);
    return 'consistent_hash';
  }
  return name as Policy;
}

/** NATS credentials and TLS files from the flags; a client certificate needs its key and the other way round. */
function natsAuth(v: Readonly<Record<string, FlagValue>>): {
  credsFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
} {
  const caFile = v['nats-tls-ca'] as string | undefined;
  const certFile = v['nats-tls-cert'] as string | undefined;
  const keyFile = v['nats-tls-key'] as string | undefined;
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new FlagError('--nats-tls-cert and --nats-tls-key go together');
  const tls = {
    ...(caFile !== undefined ? { caFile } : {}),
    ...(certFile !== undefined ? { certFile } : {}),
    ...(keyFile !== undefined ? { keyFile } : {}),
  };
  return {
    ...(v['nats-creds'] ? { credsFile: String(v['nats-creds']) } : {}),
    ...(Object.keys(tls).length > 0 ? { tls } : {}),
  };
}

function admissionOf(v: Readonly<Record<string, FlagValue>>): AdmissionSettings {
  const rate = v['rate-limit-tokens-per-second'] as number | undefined;
  return Object.freeze({
    maxConcurrent: positive('max-concurrent-requests', v['max-concurrent-requests'] as number),
    queueSize: positive('queue-size', v['queue-size'] as number, true),
    queueTimeoutMs: Math.round(positive('queue-timeout-secs', v['queue-timeout-secs'] as number) * 1000),
    ...(rate !== undefined ? { ratePerSecond: positive('rate-limit-tokens-per-second', rate) } : {}),
  });
}

export function buildConfig(parsed: ParsedFlags, io: ConfigIo = defaultIo): ProxyConfig {
  const v = parsed.values;
  const warnings: string[] = parsed.notHonoured.map(
    (name) => `--${name} is accepted for vllm-router compatibility but not acted on`,
  );
  const mode: ProxyMode = v['pd-disaggregation'] === true || v['vllm-pd-disaggregation'] === true ? 'pd' : 'plain';

  const prefill = ((v.prefill as readonly PrefillArg[] | undefined) ?? []).map((p) => ({
    ...p,
    url: validUrl('--prefill', p.url),
  }));
  const decode = ((v.decode as readonly string[] | undefined) ?? []).map((u) => validUrl('--decode', u));
  const plain = ((v['worker-urls'] as readonly string[] | undefined) ?? []).map((u) => validUrl('--worker-urls', u));
  const snapshotFile = v['snapshot-file'] as string | undefined;
  const natsUrl = v['nats-url'] as string | undefined;
  const staticGiven = prefill.length + decode.length + plain.length > 0;

  let membership: MembershipConfig;
  if (snapshotFile !== undefined || natsUrl !== undefined) {
    if (snapshotFile !== undefined && natsUrl !== undefined)
      throw new FlagError('use either --snapshot-file or --nats-url, not both');
    if (staticGiven) {
      throw new FlagError(
        `--${snapshotFile !== undefined ? 'snapshot-file' : 'nats-url'} supplies the members: drop --prefill/--decode/--worker-urls`,
      );
    }
    membership =
      snapshotFile !== undefined
        ? { kind: 'file', path: snapshotFile }
        : { kind: 'nats', url: natsUrl as string, bucket: String(v.bucket), ...natsAuth(v) };
  } else if (mode === 'pd') {
    if (prefill.length === 0 || decode.length === 0) {
      throw new FlagError(
        'P/D mode needs at least one --prefill URL and one --decode URL (or --snapshot-file / --nats-url)',
      );
    }
    if (plain.length > 0) throw new FlagError('--worker-urls is for plain mode; P/D mode takes --prefill and --decode');
    membership = { kind: 'static', prefill, decode, plain: [] };
  } else {
    if (plain.length === 0) {
      if (prefill.length + decode.length > 0)
        throw new FlagError('--prefill/--decode need --pd-disaggregation (or --vllm-pd-disaggregation)');
      throw new FlagError(
        'no pods given: use --pd-disaggregation with --prefill/--decode, or --worker-urls (see --help)',
      );
    }
    membership = { kind: 'static', prefill: [], decode: [], plain };
  }

  const policy = policyOf(v.policy, 'policy', warnings);
  const prefillPolicy =
    v['prefill-policy'] !== undefined ? policyOf(v['prefill-policy'], 'prefill-policy', warnings) : policy;
  const decodePolicy =
    v['decode-policy'] !== undefined ? policyOf(v['decode-policy'], 'decode-policy', warnings) : policy;

  const ingressApiKeys = [...((v['ingress-api-key'] as readonly string[] | undefined) ?? [])];
  const keyFile = v['ingress-api-key-file'] as string | undefined;
  if (keyFile !== undefined) {
    let text: string;
    try {
      text = io.readFile(keyFile);
    } catch (err) {
      throw new FlagError(`--ingress-api-key-file ${keyFile}: ${(err as Error).message}`);
    }
    for (const line of text.split(/\r?\n/)) {
      const key = line.trim();
      if (key && !key.startsWith('#')) ingressApiKeys.push(key);
    }
    if (ingressApiKeys.length === 0) throw new FlagError(`--ingress-api-key-file ${keyFile} holds no key`);
  }

  const port = v.port as number;
  const prometheusPort = v['prometheus-port'] as number;
  for (const [flag, p] of [
    ['port', port],
    ['prometheus-port', prometheusPort],
  ] as const) {
    if (p < 0 || p > 65535) throw new FlagError(`--${flag} must be 0-65535, got ${p}`);
  }
  const connections = positive('connections-per-pod', v['connections-per-pod'] as number, true);
  const hashPrefixBytes = v['hash-prefix-bytes'] as number | undefined;
  const retries =
    v['disable-retries'] === true ? 0 : positive('retry-max-retries', v['retry-max-retries'] as number, true);

  const config: ProxyConfig = {
    mode,
    membership,
    pool: String(v.pool),
    prefillPolicy,
    decodePolicy,
    plainPolicy: policy,
    hashKeyMode: v['hash-key-mode'] as HashKeyMode,
    vllmRouterKind: mode === 'plain' ? 'regular' : v['vllm-pd-disaggregation'] === true ? 'vllm-pd' : 'pd',
    ...(hashPrefixBytes !== undefined ? { hashPrefixBytes: positive('hash-prefix-bytes', hashPrefixBytes) } : {}),
    virtualNodes: positive('virtual-nodes', v['virtual-nodes'] as number),
    dataParallelSize: positive('intra-node-data-parallel-size', v['intra-node-data-parallel-size'] as number),
    boundedLoadFactor: (() => {
      const f = v['bounded-load-factor'] as number;
      if (!(f >= 1)) throw new FlagError(`--bounded-load-factor must be >= 1, got ${f}`);
      return f;
    })(),
    host: String(v.host),
    port,
    prometheusHost: String(v['prometheus-host']),
    prometheusPort,
    timeouts: Object.freeze({
      connectMs: positive('connect-timeout-ms', v['connect-timeout-ms'] as number),
      firstByteMs: positive('first-byte-timeout-ms', v['first-byte-timeout-ms'] as number),
      idleMs: positive('idle-timeout-ms', v['idle-timeout-ms'] as number),
      totalMs: Math.round(positive('request-timeout-secs', v['request-timeout-secs'] as number) * 1000),
      keepAliveMs: positive('keep-alive-timeout-ms', v['keep-alive-timeout-ms'] as number),
      clientBodyMs: positive('client-body-timeout-ms', v['client-body-timeout-ms'] as number),
    }),
    ...(connections > 0 ? { connectionsPerPod: connections } : {}),
    maxPayloadBytes: positive('max-payload-size', v['max-payload-size'] as number),
    ...(v['api-key'] ? { backendApiKey: String(v['api-key']) } : {}),
    ingressApiKeys: Object.freeze(ingressApiKeys),
    logLevel: v['log-level'] as LogLevel,
    maxFailovers: retries,
    health: Object.freeze({
      enabled: v['disable-circuit-breaker'] !== true,
      ejectAfterFailures: positive('eject-after-failures', v['eject-after-failures'] as number),
      probeBaseMs: positive('eject-probe-base-ms', v['eject-probe-base-ms'] as number),
      probeMaxMs: positive('eject-probe-max-ms', v['eject-probe-max-ms'] as number),
      probePath: String(v['health-check-endpoint']),
      probeTimeoutMs: Math.round(
        positive('health-check-timeout-secs', v['health-check-timeout-secs'] as number) * 1000,
      ),
    }),
    decodeOnlyFallback: v['decode-only-fallback'] === true,
    admission: admissionOf(v),
    drainTimeoutMs: Math.round(positive('drain-timeout-secs', v['drain-timeout-secs'] as number, true) * 1000),
    modelsCacheMs: positive('models-cache-ms', v['models-cache-ms'] as number, true),
    warnings: Object.freeze(warnings),
  };
  return Object.freeze(config);
}
