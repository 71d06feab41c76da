import { randomBytes } from 'node:crypto';
import { flagParser, helpText, UsageError } from '@pdrouter/cli';
import { LOADGEN_FLAGS } from './flags.ts';
import type { GoodputSlos } from './metrics.ts';

export type Backend = 'openai' | 'openai-chat';
export type BackendMode = 'direct' | 'oracle-pd' | 'oracle-plain';

/** The load generator's settings, parsed once from `vllm bench serve`'s flags. */
export interface LoadgenConfig {
  readonly backend: Backend;
  readonly backendMode: BackendMode;
  readonly baseUrl: string;
  /** --round-robin-url: replicas taking requests in turn (empty: every request goes to baseUrl). */
  readonly roundRobinUrls: readonly string[];
  readonly endpoint: string;
  readonly model: string | undefined;
  readonly servedModelName: string | undefined;
  readonly label: string | undefined;
  readonly datasetName: 'random' | 'multi-turn';
  /** multi-turn dataset: shared system prompts, sessions of several turns (see multi-turn.ts). */
  readonly multiTurn: {
    readonly systemPrompts: number;
    readonly systemPromptLen: number;
    readonly sessions: number;
    readonly turns: number;
    readonly userLen: number;
  };
  readonly numPrompts: number;
  readonly randomInputLen: number;
  readonly randomOutputLen: number;
  readonly randomRangeRatio: number;
  readonly randomPrefixLen: number;
  readonly maxConcurrency: number | undefined;
  readonly requestRate: number;
  readonly burstiness: number;
  readonly ignoreEos: boolean;
  readonly requestIdPrefix: string;
  readonly seed: number;
  readonly saveResult: boolean;
  readonly saveDetailed: boolean;
  readonly resultDir: string | undefined;
  readonly resultFilename: string | undefined;
  readonly goodput: GoodputSlos;
  readonly percentileMetrics: readonly string[];
  readonly metricPercentiles: readonly number[];
  readonly headers: Readonly<Record<string, string>>;
  readonly extraBody: Readonly<Record<string, unknown>>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly numWarmups: number;
  readonly readyCheckTimeoutSec: number;
  /** oracle-pd: the prefill and decode pod URLs the load generator routes to itself. */
  readonly prefillUrls: readonly string[];
  readonly decodeUrls: readonly string[];
  /** oracle-plain: the pods the load generator spreads requests over itself (same ring as the proxy's plain mode). */
  readonly workerUrls: readonly string[];
  readonly oracleHashKeyMode: 'vllm-router' | 'affinity';
  readonly quiet: boolean;
  /** Longest silence allowed between two chunks of a response (and before its headers), in seconds. */
  readonly idleTimeoutSec: number;
}

const parser = flagParser(LOADGEN_FLAGS);

export function loadgenHelp(): string {
  return helpText(
    ['Usage: node bench/src/loadgen.ts [flags]   (the flags of `vllm bench serve`)', ''],
    [{ title: 'Flags:', flags: LOADGEN_FLAGS }],
  );
}

/** `vllm bench serve` spells flags with `-` or `_` (`--num_prompts`): names are read with `-`. */
function dashed(arg: string): string {
  if (!arg.startsWith('--')) return arg;
  const eq = arg.indexOf('=');
  return eq < 0 ? arg.replaceAll('_', '-') : `${arg.slice(0, eq).replaceAll('_', '-')}${arg.slice(eq)}`;
}

/** URLs without trailing slashes. */
const trimmed = (urls: readonly string[]) => urls.map((u) => u.replace(/\/+$/, ''));

function pairs(values: readonly string[], sep: string, flag: string): [string, string][] {
  return values.map((item) => {
    const at = item.indexOf(sep);
    if (at <= 0) throw new UsageError(`--${flag} expects KEY${sep}VALUE, got '${item}'`);
    return [item.slice(0, at).trim(), item.slice(at + 1).trim()];
  });
}

function positive(v: number, flag: string): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new UsageError(`--${flag} must be a positive number`);
  return v;
}

export function parseGoodput(values: readonly string[]): GoodputSlos {
  const slos: Partial<Record<'ttft' | 'tpot' | 'e2el', number>> = {};
  for (const [name, value] of pairs(values, ':', 'goodput')) {
    if (name !== 'ttft' && name !== 'tpot' && name !== 'e2el') {
      throw new UsageError(`invalid goodput metric '${name}': use ttft, tpot or e2el`);
    }
    const ms = Number(value);
    if (!Number.isFinite(ms) || ms < 0) throw new UsageError(`goodput ${name} must be a non-negative number of ms`);
    slos[name] = ms;
  }
  return Object.freeze(slos);
}

function requestRateOf(text: string): number {
  const rate = text === 'inf' ? Number.POSITIVE_INFINITY : Number(text);
  if (text.trim() === '' || !(rate > 0)) throw new UsageError(`--request-rate must be > 0 or inf, got '${text}'`);
  return rate;
}

function extraBodyOf(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new UsageError('--extra-body must be a JSON object');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new UsageError('--extra-body must be a JSON object');
  }
  return { ...body };
}

const PERCENTILE_METRICS = ['ttft', 'tpot', 'itl', 'e2el', 'client_queue_time'];

/** Parses argv (without node and script) into a frozen config; throws UsageError with a clear message. */
export function parseLoadgenArgs(argv: readonly string[]): LoadgenConfig {
  const { values: v } = parser.parse(argv.map(dashed));
  const backend = v.backend;
  const backendMode = v['backend-mode'];
  const datasetName = v['dataset-name'];
  if (datasetName === 'multi-turn' && backend !== 'openai-chat') {
    throw new UsageError('--dataset-name multi-turn needs --backend openai-chat');
  }
  const endpoint = v.endpoint ?? (backend === 'openai' ? '/v1/completions' : '/v1/chat/completions');
  const expected = backend === 'openai' ? 'completions' : 'chat/completions';
  if (!endpoint.endsWith(expected)) throw new UsageError(`--endpoint for ${backend} must end with '${expected}'`);
  const roundRobinUrls = trimmed(v['round-robin-url']);
  if (roundRobinUrls.length > 0 && v['base-url'] !== undefined) {
    throw new UsageError('--round-robin-url replaces --base-url: give one or the other');
  }
  if (roundRobinUrls.length > 0 && backendMode !== 'direct') {
    throw new UsageError('--round-robin-url needs --backend-mode direct (the oracles pick pods themselves)');
  }
  const baseUrl = (roundRobinUrls[0] ?? v['base-url'] ?? `http://${v.host}:${v.port}`).replace(/\/+$/, '');
  const maxConcurrency = v['max-concurrency'];
  if (maxConcurrency !== undefined && maxConcurrency <= 0) throw new UsageError('--max-concurrency must be > 0');
  const requestRate = requestRateOf(v['request-rate']);
  if (!(v.burstiness > 0)) throw new UsageError('--burstiness must be > 0');
  if (v['num-prompts'] < 1) throw new UsageError('--num-prompts must be >= 1');
  const metricPercentiles = v['metric-percentiles'].split(',').map((p) => {
    const n = Number(p);
    if (!(n >= 0 && n <= 100)) throw new UsageError(`--metric-percentiles: '${p}' is not in [0, 100]`);
    return n;
  });
  const percentileMetrics = v['percentile-metrics'].split(',').map((m) => m.trim());
  for (const m of percentileMetrics) {
    if (!PERCENTILE_METRICS.includes(m)) throw new UsageError(`--percentile-metrics: unknown '${m}'`);
  }
  const extraBody = extraBodyOf(v['extra-body']);
  const sampling: Record<string, unknown> = {};
  if (v.temperature !== undefined) sampling.temperature = v.temperature;
  if (v['top-p'] !== undefined) sampling.top_p = v['top-p'];
  if (v['top-k'] !== undefined) sampling.top_k = v['top-k'];
  const prefillUrls = trimmed(v.prefill);
  const decodeUrls = trimmed(v.decode);
  if (backendMode === 'oracle-pd' && (prefillUrls.length === 0 || decodeUrls.length === 0)) {
    throw new UsageError('--backend-mode oracle-pd needs at least one --prefill URL and one --decode URL');
  }
  const workerUrls = trimmed(v['worker-url']);
  if (backendMode === 'oracle-plain' && workerUrls.length === 0) {
    throw new UsageError('--backend-mode oracle-plain needs at least one --worker-url URL');
  }
  return Object.freeze({
    backend,
    backendMode,
    baseUrl,
    roundRobinUrls: Object.freeze(roundRobinUrls),
    endpoint,
    model: v.model,
    servedModelName: v['served-model-name'],
    label: v.label,
    datasetName,
    multiTurn: Object.freeze({
      systemPrompts: v['multi-turn-system-prompts'],
      systemPromptLen: v['multi-turn-system-prompt-len'],
      sessions: v['multi-turn-sessions'],
      turns: v['multi-turn-turns'],
      userLen: v['multi-turn-user-len'],
    }),
    numPrompts: v['num-prompts'],
    randomInputLen: v['input-len'] ?? v['random-input-len'],
    randomOutputLen: v['output-len'] ?? v['random-output-len'],
    randomRangeRatio: v['random-range-ratio'],
    randomPrefixLen: v['random-prefix-len'],
    maxConcurrency,
    requestRate,
    burstiness: v.burstiness,
    // vLLM turns ignore_eos on for the random dataset on OpenAI-compatible backends, so lengths are exact.
    ignoreEos: true,
    requestIdPrefix: v['request-id-prefix'] ?? `bench-${randomBytes(4).toString('hex')}-`,
    seed: v.seed,
    saveResult: v['save-result'],
    saveDetailed: v['save-detailed'],
    resultDir: v['result-dir'],
    resultFilename: v['result-filename'],
    goodput: parseGoodput(v.goodput),
    percentileMetrics: Object.freeze(percentileMetrics),
    metricPercentiles: Object.freeze(metricPercentiles),
    headers: Object.freeze(Object.fromEntries(pairs(v.header, '=', 'header'))),
    extraBody: Object.freeze({ ...sampling, ...extraBody }),
    metadata: Object.freeze(Object.fromEntries(pairs(v.metadata, '=', 'metadata'))),
    numWarmups: v['num-warmups'],
    readyCheckTimeoutSec: v['ready-check-timeout-sec'],
    prefillUrls: Object.freeze(prefillUrls),
    decodeUrls: Object.freeze(decodeUrls),
    workerUrls: Object.freeze(workerUrls),
    oracleHashKeyMode: v['oracle-hash-key-mode'],
    quiet: v.quiet,
    idleTimeoutSec: positive(v['idle-timeout-sec'], 'idle-timeout-sec'),
  });
}
