// The proxy's configuration: parsed once from the flags into a frozen, typed object.
import { readFileSync } from 'node:fs';
import { UsageError } from '@pdrouter/cli';
import type { HashKeyMode, VllmRouterKind } from '@pdrouter/core';
import type { ClientEdgeConfig } from './client-edge.ts';
import { type MembershipConfig, membershipOf } from './config-membership.ts';
import { type HealthConfig, type RetrySettings, resilienceOf, type StartupSettings } from './config-resilience.ts';
import { type RoutingSettings, routingOf } from './config-routing.ts';
import { type LoadShareSettings, loadShareOf, type PodMetricsSettings, podMetricsOf } from './config-signals.ts';
import type { ParsedFlags, POLICIES, ProxyFlagValues } from './flags.ts';
import { DEFAULT_REQUEST_ID_HEADERS } from './request-id.ts';
import { type TracingSettings, tracesUrl } from './tracing-settings.ts';

export type Policy = (typeof POLICIES)[number];
export type ProxyMode = 'pd' | 'plain';

export type { MembershipConfig, PrefillArg } from './config-membership.ts';
export type { HealthConfig, RetrySettings, StartupSettings } from './config-resilience.ts';
export type { RoutingSettings } from './config-routing.ts';
export type { LoadShareSettings, PodMetricsSettings } from './config-signals.ts';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

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

export interface AdmissionSettings {
  readonly maxConcurrent: number;
  readonly queueSize: number;
  readonly queueTimeoutMs: number;
  readonly ratePerSecond?: number;
}

export interface KeyValidationSettings {
  readonly urls: readonly string[];
  readonly cacheMs: number;
  readonly timeoutMs: number;
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
  /** cache_aware / load_aware, the prefix index and selective P/D. */
  readonly routing: RoutingSettings;
  /** Reading the pods' /metrics gauges; undefined: no policy in use reads them, or turned off. */
  readonly podMetrics?: PodMetricsSettings;
  /** Sharing in-flight counts with the other replicas over NATS; undefined: standalone, or turned off. */
  readonly loadShare?: LoadShareSettings;
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
  /** The client listener's header timeout, request timeout and connection cap. */
  readonly clientEdge: ClientEdgeConfig;
  /** Request body bytes all requests in flight may hold together. */
  readonly maxBufferedBodyBytes: number;
  readonly backendApiKey?: string;
  readonly ingressApiKeys: readonly string[];
  readonly logLevel: LogLevel;
  /** --log-dir: the log lines also go to a daily file there. */
  readonly logDir?: string;
  /** Circuit breaker and health probes (config-resilience.ts). */
  readonly health: HealthConfig;
  /** Attempts per leg along the ring walk and the delays between them. */
  readonly retry: RetrySettings;
  /** --worker-startup-*: waiting for static pods to answer their health endpoint. */
  readonly startup: StartupSettings;
  readonly decodeOnlyFallback: boolean;
  readonly admission: AdmissionSettings;
  /** --cors-allowed-origins; empty: no CORS headers. */
  readonly corsAllowedOrigins: readonly string[];
  /** Lower-case header names the client's request id is read from, in order. */
  readonly requestIdHeaders: readonly string[];
  readonly keyValidation?: KeyValidationSettings;
  /** --enable-trace; undefined: tracing off. */
  readonly tracing?: TracingSettings;
  readonly drainTimeoutMs: number;
  readonly modelsCacheMs: number;
}

export interface ConfigIo {
  readFile(path: string): string;
}

const defaultIo: ConfigIo = { readFile: (path) => readFileSync(path, 'utf8') };

function positive(flag: string, n: number, allowZero = false): number {
  if (!(allowZero ? n >= 0 : n > 0)) throw new UsageError(`--${flag} must be ${allowZero ? '>= 0' : '> 0'}, got ${n}`);
  return n;
}

function tracingOf(v: ProxyFlagValues): { tracing?: TracingSettings } {
  if (v['enable-trace'] !== true) return {};
  const ratio = v['otel-sampling-ratio'];
  if (!(ratio >= 0 && ratio <= 1)) throw new UsageError(`--otel-sampling-ratio must be between 0 and 1, got ${ratio}`);
  const endpoint = v['otlp-traces-endpoint'];
  if (endpoint !== undefined) {
    try {
      tracesUrl(endpoint);
    } catch {
      throw new UsageError(`--otlp-traces-endpoint: ${JSON.stringify(endpoint)} is not host:port or a URL`);
    }
  }
  return {
    tracing: Object.freeze({
      ...(endpoint !== undefined ? { endpoint } : {}),
      samplingRatio: ratio,
      excludedPaths: Object.freeze([...(v['otel-excluded-paths'] ?? [])]),
    }),
  };
}

const KEY_VALIDATION_TIMEOUT_MS = 5000;

function keyValidationOf(v: ProxyFlagValues): { keyValidation?: KeyValidationSettings } {
  const urls = v['api-key-validation-urls'] ?? [];
  if (urls.length === 0) return {};
  for (const raw of urls) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UsageError(`--api-key-validation-urls: ${JSON.stringify(raw)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new UsageError(`--api-key-validation-urls: ${JSON.stringify(raw)} must be an http:// or https:// URL`);
  }
  const cacheSecs = positive('api-key-validation-cache-secs', v['api-key-validation-cache-secs'], true);
  return {
    keyValidation: Object.freeze({
      urls: Object.freeze([...urls]),
      cacheMs: Math.round(cacheSecs * 1000),
      timeoutMs: KEY_VALIDATION_TIMEOUT_MS,
    }),
  };
}

function admissionOf(v: ProxyFlagValues): AdmissionSettings {
  const rate = v['rate-limit-tokens-per-second'];
  return Object.freeze({
    maxConcurrent: positive('max-concurrent-requests', v['max-concurrent-requests']),
    queueSize: positive('queue-size', v['queue-size'], true),
    queueTimeoutMs: Math.round(positive('queue-timeout-secs', v['queue-timeout-secs']) * 1000),
    ...(rate !== undefined ? { ratePerSecond: positive('rate-limit-tokens-per-second', rate) } : {}),
  });
}

export function buildConfig(parsed: ParsedFlags, io: ConfigIo = defaultIo): ProxyConfig {
  const v = parsed.values;
  const mode: ProxyMode = v['pd-disaggregation'] === true || v['vllm-pd-disaggregation'] === true ? 'pd' : 'plain';

  const membership = membershipOf(v, mode);

  const policy: Policy = v.policy;
  const prefillPolicy: Policy = v['prefill-policy'] ?? policy;
  const decodePolicy: Policy = v['decode-policy'] ?? policy;

  const ingressApiKeys = [...v['ingress-api-key']];
  const keyFile = v['ingress-api-key-file'];
  if (keyFile !== undefined) {
    let text: string;
    try {
      text = io.readFile(keyFile);
    } catch (err) {
      throw new UsageError(`--ingress-api-key-file ${keyFile}: ${err instanceof Error ? err.message : String(err)}`);
    }
    for (const line of text.split(/\r?\n/)) {
      const key = line.trim();
      if (key && !key.startsWith('#')) ingressApiKeys.push(key);
    }
    if (ingressApiKeys.length === 0) throw new UsageError(`--ingress-api-key-file ${keyFile} holds no key`);
  }

  const port = v.port;
  const prometheusPort = v['prometheus-port'];
  for (const [flag, p] of [
    ['port', port],
    ['prometheus-port', prometheusPort],
  ] as const) {
    if (p < 0 || p > 65535) throw new UsageError(`--${flag} must be 0-65535, got ${p}`);
  }
  const connections = positive('connections-per-pod', v['connections-per-pod'], true);
  const hashPrefixBytes = v['hash-prefix-bytes'];

  const config: ProxyConfig = {
    mode,
    membership,
    pool: v.pool,
    prefillPolicy,
    decodePolicy,
    plainPolicy: policy,
    hashKeyMode: v['hash-key-mode'],
    vllmRouterKind: mode === 'plain' ? 'regular' : v['vllm-pd-disaggregation'] === true ? 'vllm-pd' : 'pd',
    ...(hashPrefixBytes !== undefined ? { hashPrefixBytes: positive('hash-prefix-bytes', hashPrefixBytes) } : {}),
    virtualNodes: positive('virtual-nodes', v['virtual-nodes']),
    dataParallelSize: positive('intra-node-data-parallel-size', v['intra-node-data-parallel-size']),
    boundedLoadFactor: (() => {
      const f = v['bounded-load-factor'];
      if (!(f >= 1)) throw new UsageError(`--bounded-load-factor must be >= 1, got ${f}`);
      return f;
    })(),
    routing: routingOf(v, mode, { decode: mode === 'pd' ? decodePolicy : policy }),
    ...podMetricsOf(parsed, mode === 'pd' ? [prefillPolicy, decodePolicy] : [policy]),
    ...loadShareOf(parsed, membership, v.pool, mode === 'pd' ? [prefillPolicy, decodePolicy] : [policy]),
    host: v.host,
    port,
    prometheusHost: v['prometheus-host'],
    prometheusPort,
    timeouts: Object.freeze({
      connectMs: positive('connect-timeout-ms', v['connect-timeout-ms']),
      firstByteMs: positive('first-byte-timeout-ms', v['first-byte-timeout-ms']),
      idleMs: positive('idle-timeout-ms', v['idle-timeout-ms']),
      totalMs: Math.round(positive('request-timeout-secs', v['request-timeout-secs']) * 1000),
      keepAliveMs: positive('keep-alive-timeout-ms', v['keep-alive-timeout-ms']),
      clientBodyMs: positive('client-body-timeout-ms', v['client-body-timeout-ms']),
    }),
    ...(connections > 0 ? { connectionsPerPod: connections } : {}),
    clientEdge: Object.freeze({
      headersMs: positive('client-header-timeout-ms', v['client-header-timeout-ms']),
      requestMs:
        positive('client-header-timeout-ms', v['client-header-timeout-ms']) +
        positive('client-body-timeout-ms', v['client-body-timeout-ms']),
      maxConnections: positive('max-client-connections', v['max-client-connections'], true),
    }),
    maxPayloadBytes: positive('max-payload-size', v['max-payload-size']),
    maxBufferedBodyBytes: (() => {
      const cap = positive('max-buffered-body-bytes', v['max-buffered-body-bytes']);
      const one = v['max-payload-size'];
      if (cap < one) throw new UsageError(`--max-buffered-body-bytes (${cap}) must be >= --max-payload-size (${one})`);
      return cap;
    })(),
    ...(v['api-key'] ? { backendApiKey: v['api-key'] } : {}),
    ingressApiKeys: Object.freeze(ingressApiKeys),
    logLevel: v['log-level'],
    ...(v['log-dir'] !== undefined ? { logDir: v['log-dir'] } : {}),
    ...resilienceOf(v),
    decodeOnlyFallback: v['decode-only-fallback'] === true,
    admission: admissionOf(v),
    corsAllowedOrigins: Object.freeze([...(v['cors-allowed-origins'] ?? [])]),
    requestIdHeaders: Object.freeze(
      v['request-id-headers']?.length
        ? v['request-id-headers'].map((h) => h.toLowerCase())
        : [...DEFAULT_REQUEST_ID_HEADERS],
    ),
    ...keyValidationOf(v),
    ...tracingOf(v),
    drainTimeoutMs: Math.round(positive('drain-timeout-secs', v['drain-timeout-secs'], true) * 1000),
    modelsCacheMs: positive('models-cache-ms', v['models-cache-ms'], true),
  };
  return Object.freeze(config);
}
