import { randomBytes } from 'node:crypto';
import type { GoodputSlos } from './metrics.ts';

export type Backend = 'openai' | 'openai-chat';
export type BackendMode = 'direct' | 'oracle-pd' | 'oracle-plain';

/** The load generator's settings, parsed once from `vllm bench serve`'s flags. */
export interface LoadgenConfig {
  readonly backend: Backend;
  readonly backendMode: BackendMode;
  readonly baseUrl: string;
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

type FlagKind = 'string' | 'int' | 'float' | 'bool' | 'list' | 'repeat';
interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  readonly help: string;
  readonly default?: string;
}

/** Every flag, once: the parser and --help both read this table. Names and meanings follow `vllm bench serve`. */
export const LOADGEN_FLAGS: readonly FlagSpec[] = [
  {
    name: 'backend',
    kind: 'string',
    default: 'openai',
    help: 'openai (/v1/completions) or openai-chat (/v1/chat/completions)',
  },
  { name: 'base-url', kind: 'string', help: 'server base URL (instead of --host/--port)' },
  { name: 'host', kind: 'string', default: '127.0.0.1', help: 'server host' },
  { name: 'port', kind: 'int', default: '8000', help: 'server port' },
  {
    name: 'endpoint',
    kind: 'string',
    help: 'API path (default: /v1/completions, /v1/chat/completions for openai-chat)',
  },
  { name: 'model', kind: 'string', help: "model name (default: the first of the server's /v1/models)" },
  { name: 'served-model-name', kind: 'string', help: 'model name sent in requests when it differs from --model' },
  { name: 'label', kind: 'string', help: 'result label (default: the backend)' },
  { name: 'dataset-name', kind: 'string', default: 'random', help: 'random, or multi-turn (chat sessions)' },
  { name: 'multi-turn-system-prompts', kind: 'int', default: '16', help: 'multi-turn: distinct system prompts' },
  { name: 'multi-turn-system-prompt-len', kind: 'int', default: '800', help: 'multi-turn: system prompt tokens' },
  { name: 'multi-turn-sessions', kind: 'int', default: '64', help: 'multi-turn: sessions (conversations)' },
  { name: 'multi-turn-turns', kind: 'int', default: '4', help: 'multi-turn: user turns per session' },
  { name: 'multi-turn-user-len', kind: 'int', default: '64', help: 'multi-turn: tokens per user message' },
  { name: 'num-prompts', kind: 'int', default: '1000', help: 'number of prompts' },
  { name: 'input-len', kind: 'int', help: 'alias of --random-input-len' },
  { name: 'output-len', kind: 'int', help: 'alias of --random-output-len' },
  { name: 'random-input-len', kind: 'int', default: '1024', help: 'input tokens per request' },
  { name: 'random-output-len', kind: 'int', default: '128', help: 'output tokens per request' },
  {
    name: 'random-range-ratio',
    kind: 'float',
    default: '0',
    help: 'lengths drawn from [len*(1-r), len*(1+r)], r in [0,1)',
  },
  { name: 'random-prefix-len', kind: 'int', default: '0', help: 'tokens of a random prefix shared by all prompts' },
  { name: 'max-concurrency', kind: 'int', help: 'maximum requests in flight' },
  { name: 'request-rate', kind: 'float', default: 'inf', help: 'requests per second (inf: all at once)' },
  { name: 'burstiness', kind: 'float', default: '1', help: 'gamma shape of the arrival gaps (1 = Poisson)' },
  { name: 'ignore-eos', kind: 'bool', help: 'send ignore_eos (always on for the random dataset, as vLLM does)' },
  {
    name: 'request-id-prefix',
    kind: 'string',
    help: 'x-request-id prefix (default bench-<8 hex>-), id = prefix + index',
  },
  { name: 'seed', kind: 'int', default: '0', help: 'seed of the dataset and arrival times' },
  { name: 'save-result', kind: 'bool', help: 'write the result JSON' },
  { name: 'save-detailed', kind: 'bool', help: 'include per-request ttfts, itls, output_lens, errors ... in the JSON' },
  { name: 'result-dir', kind: 'string', help: 'directory of the result JSON' },
  { name: 'result-filename', kind: 'string', help: 'file name of the result JSON' },
  { name: 'goodput', kind: 'list', help: 'SLOs as KEY:MS pairs, KEY in ttft, tpot, e2el' },
  { name: 'percentile-metrics', kind: 'string', default: 'ttft,tpot,itl,e2el', help: 'metrics with percentiles' },
  { name: 'metric-percentiles', kind: 'string', default: '99', help: 'comma-separated percentiles' },
  { name: 'header', kind: 'list', help: 'extra request headers as KEY=VALUE' },
  { name: 'extra-body', kind: 'string', help: 'JSON object merged into every request body' },
  { name: 'metadata', kind: 'list', help: 'KEY=VALUE pairs saved in the result JSON' },
  { name: 'temperature', kind: 'float', help: 'sampling temperature' },
  { name: 'top-p', kind: 'float', help: 'top-p' },
  { name: 'top-k', kind: 'int', help: 'top-k' },
  { name: 'num-warmups', kind: 'int', default: '0', help: 'warm-up requests before the measured run' },
  {
    name: 'ready-check-timeout-sec',
    kind: 'int',
    default: '0',
    help: 'wait up to this long for a first successful request',
  },
  { name: 'disable-tqdm', kind: 'bool', help: 'accepted for compatibility (no progress bar is drawn)' },
  {
    name: 'backend-mode',
    kind: 'string',
    default: 'direct',
    help: 'direct; oracle-pd: do both P/D legs here; oracle-plain: pick the pod here (consistent hash)',
  },
  { name: 'prefill', kind: 'repeat', help: 'oracle-pd: a prefill pod URL (repeat)' },
  { name: 'decode', kind: 'repeat', help: 'oracle-pd: a decode pod URL (repeat)' },
  { name: 'worker-url', kind: 'repeat', help: 'oracle-plain: a pod URL (repeat)' },
  { name: 'oracle-hash-key-mode', kind: 'string', default: 'vllm-router', help: 'oracle-pd: vllm-router or affinity' },
  { name: 'quiet', kind: 'bool', help: 'print only the result table' },
  {
    name: 'idle-timeout-sec',
    kind: 'float',
    default: '300',
    help: 'fail a request after this long without a byte (headers or next chunk)',
  },
];

export class ConfigError extends Error {}

export function loadgenHelp(): string {
  const lines = ['Usage: node bench/src/loadgen.ts [flags]   (the flags of `vllm bench serve`)', ''];
  for (const f of LOADGEN_FLAGS) {
    const value = f.kind === 'bool' ? '' : f.kind === 'list' ? ' V [V ...]' : ' V';
    const def = f.default !== undefined ? ` (default ${f.default})` : '';
    lines.push(`  --${f.name}${value}`.padEnd(36) + f.help + def);
  }
  return lines.join('\n');
}

type Raw = Map<string, string | boolean | string[]>;

/** The values of a list or repeated flag so far ([] when it was not given). */
function list(raw: Raw, name: string): string[] {
  return (raw.get(name) as string[] | undefined) ?? [];
}

/** The URLs of a repeated URL flag, without trailing slashes. */
function urls(raw: Raw, name: string): string[] {
  return list(raw, name).map((u) => u.replace(/\/+$/, ''));
}

function tokenize(argv: readonly string[]): Raw {
  const specs = new Map(LOADGEN_FLAGS.map((f) => [f.name, f]));
  const raw: Raw = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    const name = (eq > 0 ? arg.slice(2, eq) : arg.slice(2)).replaceAll('_', '-');
    const spec = specs.get(name);
    if (spec === undefined) throw new ConfigError(`unknown flag --${name} (see --help)`);
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    if (spec.kind === 'bool') {
      raw.set(name, inline === undefined ? true : inline !== 'false');
    } else if (spec.kind === 'list') {
      const values = inline !== undefined ? [inline] : [];
      while (i + 1 < argv.length && !(argv[i + 1] as string).startsWith('--')) values.push(argv[++i] as string);
      raw.set(name, [...list(raw, name), ...values]);
    } else {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new ConfigError(`--${name} needs a value`);
      if (spec.kind === 'repeat') raw.set(name, [...list(raw, name), value]);
      else raw.set(name, value);
    }
  }
  return raw;
}

function str(raw: Raw, name: string): string | undefined {
  const v = raw.get(name);
  if (typeof v === 'string') return v;
  return LOADGEN_FLAGS.find((f) => f.name === name)?.default;
}

function num(raw: Raw, name: string, integer: boolean): number | undefined {
  const s = str(raw, name);
  if (s === undefined) return undefined;
  const v = s === 'inf' ? Number.POSITIVE_INFINITY : Number(s);
  if (Number.isNaN(v) || s.trim() === '' || (integer && !Number.isInteger(v))) {
    throw new ConfigError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got '${s}'`);
  }
  return v;
}

function pairs(values: readonly string[], sep: string, flag: string): [string, string][] {
  return values.map((item) => {
    const at = item.indexOf(sep);
    if (at <= 0) throw new ConfigError(`--${flag} expects KEY${sep}VALUE, got '${item}'`);
    return [item.slice(0, at).trim(), item.slice(at + 1).trim()];
  });
}

function positive(v: number, flag: string): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new ConfigError(`--${flag} must be a positive number`);
  return v;
}

export function parseGoodput(values: readonly string[]): GoodputSlos {
  const slos: Partial<Record<'ttft' | 'tpot' | 'e2el', number>> = {};
  for (const [name, value] of pairs(values, ':', 'goodput')) {
    if (name !== 'ttft' && name !== 'tpot' && name !== 'e2el') {
      throw new ConfigError(`invalid goodput metric '${name}': use ttft, tpot or e2el`);
    }
    const ms = Number(value);
    if (!Number.isFinite(ms) || ms < 0) throw new ConfigError(`goodput ${name} must be a non-negative number of ms`);
    slos[name] = ms;
  }
  return Object.freeze(slos);
}

/** Parses argv (without node and script) into a frozen config; throws ConfigError with a clear message. */
export function parseLoadgenArgs(argv: readonly string[]): LoadgenConfig {
  const raw = tokenize(argv);
  const backend = str(raw, 'backend');
  if (backend !== 'openai' && backend !== 'openai-chat') {
    throw new ConfigError(`--backend must be openai or openai-chat, got '${backend}'`);
  }
  const backendMode = str(raw, 'backend-mode');
  if (backendMode !== 'direct' && backendMode !== 'oracle-pd' && backendMode !== 'oracle-plain') {
    throw new ConfigError(`--backend-mode must be direct, oracle-pd or oracle-plain, got '${backendMode}'`);
  }
  const datasetName = str(raw, 'dataset-name');
  if (datasetName !== 'random' && datasetName !== 'multi-turn') {
    throw new ConfigError(`--dataset-name must be random or multi-turn, got '${datasetName}'`);
  }
  if (datasetName === 'multi-turn' && backend !== 'openai-chat') {
    throw new ConfigError('--dataset-name multi-turn needs --backend openai-chat');
  }
  const endpoint = str(raw, 'endpoint') ?? (backend === 'openai' ? '/v1/completions' : '/v1/chat/completions');
  const expected = backend === 'openai' ? 'completions' : 'chat/completions';
  if (!endpoint.endsWith(expected)) throw new ConfigError(`--endpoint for ${backend} must end with '${expected}'`);
  const baseUrl = (str(raw, 'base-url') ?? `http://${str(raw, 'host')}:${num(raw, 'port', true)}`).replace(/\/+$/, '');
  const maxConcurrency = num(raw, 'max-concurrency', true);
  if (maxConcurrency !== undefined && maxConcurrency <= 0) throw new ConfigError('--max-concurrency must be > 0');
  const requestRate = num(raw, 'request-rate', false) as number;
  if (!(requestRate > 0)) throw new ConfigError('--request-rate must be > 0');
  const burstiness = num(raw, 'burstiness', false) as number;
  if (!(burstiness > 0)) throw new ConfigError('--burstiness must be > 0');
  const numPrompts = num(raw, 'num-prompts', true) as number;
  if (numPrompts < 1) throw new ConfigError('--num-prompts must be >= 1');
  const metricPercentiles = (str(raw, 'metric-percentiles') as string).split(',').map((p) => {
    const v = Number(p);
    if (!(v >= 0 && v <= 100)) throw new ConfigError(`--metric-percentiles: '${p}' is not in [0, 100]`);
    return v;
  });
  const percentileMetrics = (str(raw, 'percentile-metrics') as string).split(',').map((m) => m.trim());
  for (const m of percentileMetrics) {
    if (!['ttft', 'tpot', 'itl', 'e2el', 'client_queue_time'].includes(m))
      throw new ConfigError(`--percentile-metrics: unknown '${m}'`);
  }
  let extraBody: Record<string, unknown> = {};
  const extraBodyText = str(raw, 'extra-body');
  if (extraBodyText !== undefined) {
    try {
      extraBody = JSON.parse(extraBodyText) as Record<string, unknown>;
    } catch {
      throw new ConfigError('--extra-body must be a JSON object');
    }
    if (typeof extraBody !== 'object' || extraBody === null || Array.isArray(extraBody)) {
      throw new ConfigError('--extra-body must be a JSON object');
    }
  }
  const sampling: Record<string, unknown> = {};
  const temperature = num(raw, 'temperature', false);
  const topP = num(raw, 'top-p', false);
  const topK = num(raw, 'top-k', true);
  if (temperature !== undefined) sampling.temperature = temperature;
  if (topP !== undefined) sampling.top_p = topP;
  if (topK !== undefined) sampling.top_k = topK;
  const prefillUrls = urls(raw, 'prefill');
  const decodeUrls = urls(raw, 'decode');
  if (backendMode === 'oracle-pd' && (prefillUrls.length === 0 || decodeUrls.length === 0)) {
    throw new ConfigError('--backend-mode oracle-pd needs at least one --prefill URL and one --decode URL');
  }
  const workerUrls = urls(raw, 'worker-url');
  if (backendMode === 'oracle-plain' && workerUrls.length === 0) {
    throw new ConfigError('--backend-mode oracle-plain needs at least one --worker-url URL');
  }
  const hashMode = str(raw, 'oracle-hash-key-mode');
  if (hashMode !== 'vllm-router' && hashMode !== 'affinity') {
    throw new ConfigError('--oracle-hash-key-mode must be vllm-router or affinity');
  }
  const inputLen = num(raw, 'input-len', true) ?? (num(raw, 'random-input-len', true) as number);
  const outputLen = num(raw, 'output-len', true) ?? (num(raw, 'random-output-len', true) as number);
  return Object.freeze({
    backend,
    backendMode,
    baseUrl,
    endpoint,
    model: str(raw, 'model'),
    servedModelName: str(raw, 'served-model-name'),
    label: str(raw, 'label'),
    datasetName,
    multiTurn: Object.freeze({
      systemPrompts: num(raw, 'multi-turn-system-prompts', true) as number,
      systemPromptLen: num(raw, 'multi-turn-system-prompt-len', true) as number,
      sessions: num(raw, 'multi-turn-sessions', true) as number,
      turns: num(raw, 'multi-turn-turns', true) as number,
      userLen: num(raw, 'multi-turn-user-len', true) as number,
    }),
    numPrompts,
    randomInputLen: inputLen,
    randomOutputLen: outputLen,
    randomRangeRatio: num(raw, 'random-range-ratio', false) as number,
    randomPrefixLen: num(raw, 'random-prefix-len', true) as number,
    maxConcurrency,
    requestRate,
    burstiness,
    // vLLM turns ignore_eos on for the random dataset on OpenAI-compatible backends, so lengths are exact.
    ignoreEos: true,
    requestIdPrefix: str(raw, 'request-id-prefix') ?? `bench-${randomBytes(4).toString('hex')}-`,
    seed: num(raw, 'seed', true) as number,
    saveResult: raw.get('save-result') === true,
    saveDetailed: raw.get('save-detailed') === true,
    resultDir: str(raw, 'result-dir'),
    resultFilename: str(raw, 'result-filename'),
    goodput: parseGoodput(list(raw, 'goodput')),
    percentileMetrics: Object.freeze(percentileMetrics),
    metricPercentiles: Object.freeze(metricPercentiles),
    headers: Object.freeze(Object.fromEntries(pairs(list(raw, 'header'), '=', 'header'))),
    extraBody: Object.freeze({ ...sampling, ...extraBody }),
    metadata: Object.freeze(Object.fromEntries(pairs(list(raw, 'metadata'), '=', 'metadata'))),
    numWarmups: num(raw, 'num-warmups', true) as number,
    readyCheckTimeoutSec: num(raw, 'ready-check-timeout-sec', true) as number,
    prefillUrls: Object.freeze(prefillUrls),
    decodeUrls: Object.freeze(decodeUrls),
    workerUrls: Object.freeze(workerUrls),
    oracleHashKeyMode: hashMode,
    quiet: raw.get('quiet') === true,
    idleTimeoutSec: positive(num(raw, 'idle-timeout-sec', false) as number, 'idle-timeout-sec'),
  });
}
