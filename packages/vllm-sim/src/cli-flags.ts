import type { SimFleetOptions } from './fleet.ts';
import {
  DEFAULT_GENERATION,
  DEFAULT_TIMING,
  type Faults,
  type GenerationOptions,
  NO_FAULTS,
  type TimingOptions,
} from './options.ts';

/** Parsed command line of the simulator CLI (frozen once parsed). */
export interface SimCliConfig {
  readonly fleet: SimFleetOptions;
  readonly controlHost: string;
  readonly controlPort: number;
  readonly help: boolean;
}

type Kind = 'int' | 'number' | 'string' | 'boolean';

interface Draft {
  prefill: number;
  decode: number;
  plain: number;
  host: string;
  advertiseHost: string | undefined;
  basePort: number;
  seed: number;
  controlHost: string;
  controlPort: number;
  timing: Partial<TimingOptions>;
  generation: Partial<GenerationOptions>;
  faults: Partial<Faults>;
  help: boolean;
}

export interface SimFlag {
  readonly name: string;
  readonly kind: Kind;
  readonly defaultText: string;
  readonly help: string;
  readonly min?: number;
  readonly max?: number;
  apply(d: Draft, v: number | string | boolean): void;
}

const timingFlag = (name: string, key: keyof TimingOptions, help: string, kind: Kind = 'number', min = 0): SimFlag => ({
  name,
  kind,
  defaultText: String(DEFAULT_TIMING[key]),
  help,
  min,
  apply: (d, v) => {
    (d.timing as Record<string, unknown>)[key] = v;
  },
});

const faultFlag = (
  name: string,
  key: keyof Faults,
  help: string,
  kind: Kind = 'number',
  min?: number,
  max?: number,
): SimFlag => ({
  name,
  kind,
  defaultText: String(NO_FAULTS[key]),
  help,
  ...(min !== undefined ? { min } : {}),
  ...(max !== undefined ? { max } : {}),
  apply: (d, v) => {
    (d.faults as Record<string, unknown>)[key] = v;
  },
});

/** A flag that sets one generation option; its default text comes from DEFAULT_GENERATION. */
const generationFlag = (
  name: string,
  key: keyof GenerationOptions,
  help: string,
  kind: Kind,
  min?: number,
): SimFlag => ({
  name,
  kind,
  defaultText: String(DEFAULT_GENERATION[key]),
  help,
  ...(min !== undefined ? { min } : {}),
  apply: (d, v) => {
    (d.generation as Record<string, unknown>)[key] = v;
  },
});

/** A flag that sets one top-level field of the draft (the fleet counts, addresses, ports, seed and --help). */
const draftFlag = (
  key: Exclude<keyof Draft, 'timing' | 'generation' | 'faults'>,
  flag: Omit<SimFlag, 'apply'>,
): SimFlag => ({
  ...flag,
  apply: (d, v) => {
    (d as unknown as Record<string, unknown>)[key] = v;
  },
});

/** Every flag of `node packages/vllm-sim/src/main.ts`; --help is generated from this table. */
export const SIM_FLAGS: readonly SimFlag[] = Object.freeze([
  draftFlag('prefill', {
    name: 'prefill',
    kind: 'int',
    defaultText: '0',
    help: 'Number of prefill pods (prefill-0..).',
    min: 0,
  }),
  draftFlag('decode', {
    name: 'decode',
    kind: 'int',
    defaultText: '0',
    help: 'Number of decode pods (decode-0..).',
    min: 0,
  }),
  draftFlag('plain', {
    name: 'plain',
    kind: 'int',
    defaultText: '0',
    help: "Number of pods serving both phases (plain-0.., role 'both').",
    min: 0,
  }),
  draftFlag('host', {
    name: 'host',
    kind: 'string',
    defaultText: '127.0.0.1',
    help: 'Bind address of every pod.',
  }),
  draftFlag('advertiseHost', {
    name: 'advertise-host',
    kind: 'string',
    defaultText: 'host (127.0.0.1 when host is a wildcard)',
    help: 'Host put in pod urls and in kv_transfer_params.remote_host.',
  }),
  draftFlag('basePort', {
    name: 'base-port',
    kind: 'int',
    defaultText: '0',
    help: 'First pod port; pods take consecutive ports (prefill, decode, plain). 0 = random free ports.',
    min: 0,
    max: 65535,
  }),
  draftFlag('controlHost', {
    name: 'control-host',
    kind: 'string',
    defaultText: '127.0.0.1',
    help: 'Bind address of the control server.',
  }),
  draftFlag('controlPort', {
    name: 'control-port',
    kind: 'int',
    defaultText: '0',
    help: 'Port of the control server (GET /pods, POST /pods/{name}/faults|stop|start). 0 = random.',
    min: 0,
    max: 65535,
  }),
  generationFlag('model', 'model', 'Served model name.', 'string'),
  generationFlag(
    'max-model-len',
    'maxModelLen',
    'Longest prompt + output in tokens (longer requests get a 400).',
    'int',
    2,
  ),
  generationFlag('eos-min-tokens', 'eosMinTokens', 'Shortest natural answer when ignore_eos is false.', 'int', 1),
  generationFlag('eos-max-tokens', 'eosMaxTokens', 'Longest natural answer when ignore_eos is false.', 'int', 1),
  generationFlag(
    'enable-prompt-tokens-details',
    'promptTokensDetails',
    'Report cached prompt tokens in usage.prompt_tokens_details (as vLLM with this flag).',
    'boolean',
  ),
  draftFlag('seed', {
    name: 'seed',
    kind: 'int',
    defaultText: '0',
    help: 'Seed of every random choice (engine ids, answer lengths, faults, spikes).',
  }),
  timingFlag('request-overhead-ms', 'requestOverheadMs', 'Cost before a request reaches the scheduler, ms.'),
  timingFlag('step-base-ms', 'stepBaseMs', 'Fixed cost of one engine step, ms.'),
  timingFlag('step-per-seq-ms', 'stepPerSeqMs', 'Added step cost per sequence in the batch, ms.'),
  timingFlag('prefill-per-token-ms', 'prefillPerTokenMs', 'Added step cost per uncached prompt token, ms.'),
  timingFlag('max-num-seqs', 'maxNumSeqs', 'Most running sequences per pod; the rest wait.', 'int', 1),
  timingFlag(
    'max-num-batched-tokens',
    'maxNumBatchedTokens',
    'Token budget of one step (long prefills are chunked).',
    'int',
    1,
  ),
  timingFlag('block-size', 'blockSize', 'Tokens per KV block (prefix-cache granularity).', 'int', 1),
  timingFlag(
    'num-gpu-blocks',
    'numGpuBlocks',
    'KV blocks per pod (prefix-cache capacity, kv_cache_usage_perc).',
    'int',
    1,
  ),
  timingFlag('kv-transfer-base-ms', 'kvTransferBaseMs', 'Fixed cost of a KV pull by a decode pod, ms.'),
  timingFlag('kv-transfer-per-token-ms', 'kvTransferPerTokenMs', 'Added KV pull cost per transferred token, ms.'),
  timingFlag('kv-ttl-ms', 'kvTtlMs', 'How long a prefill pod keeps KV blocks for its decode pod, ms.'),
  {
    name: 'no-think',
    kind: 'boolean',
    defaultText: 'false',
    help: 'Zero-delay mode: no simulated time at all, tokens as fast as sockets take them.',
    apply: (d, v) => {
      d.timing.zeroDelay = v as boolean;
    },
  },
  faultFlag('error-rate-429', 'errorRate429', 'Fraction of inference requests answered 429.', 'number', 0, 1),
  faultFlag('error-rate-500', 'errorRate500', 'Fraction answered 500.', 'number', 0, 1),
  faultFlag('error-rate-503', 'errorRate503', 'Fraction answered 503.', 'number', 0, 1),
  faultFlag(
    'stall-before-headers-ms',
    'stallBeforeHeadersMs',
    'Hold requests before headers, ms (0 off, -1 until the client leaves).',
    'number',
  ),
  faultFlag('stall-after-tokens', 'stallAfterTokens', 'Stop sending after N tokens (-1 off).', 'int', -1),
  faultFlag('stall-ms', 'stallMs', 'Length of that mid-stream stall, ms (0 = until the client leaves).', 'number', 0),
  faultFlag('drop-after-tokens', 'dropAfterTokens', 'Destroy the connection after N tokens (-1 off).', 'int', -1),
  faultFlag(
    'slow-start-ms',
    'notReadyMs',
    'Not ready (503 on /health and inference) for this long after start, ms.',
    'number',
    0,
  ),
  faultFlag(
    'latency-spike-rate',
    'latencySpikeRate',
    'Probability that an engine step is slowed by a spike.',
    'number',
    0,
    1,
  ),
  faultFlag('latency-spike-ms', 'latencySpikeMs', 'Extra duration of a spiked step, ms.', 'number', 0),
  draftFlag('help', {
    name: 'help',
    kind: 'boolean',
    defaultText: 'false',
    help: 'Print this help and exit.',
  }),
]);

function parseValue(flag: SimFlag, raw: string): number | string | boolean {
  if (flag.kind === 'string') {
    if (raw === '') throw new Error(`--${flag.name} needs a non-empty value`);
    return raw;
  }
  if (flag.kind === 'boolean') {
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new Error(`--${flag.name} takes true or false, got '${raw}'`);
  }
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`--${flag.name} needs a number, got '${raw}'`);
  if (flag.kind === 'int' && !Number.isInteger(n)) throw new Error(`--${flag.name} needs an integer, got '${raw}'`);
  if (flag.min !== undefined && n < flag.min) throw new Error(`--${flag.name} must be >= ${flag.min}, got ${n}`);
  if (flag.max !== undefined && n > flag.max) throw new Error(`--${flag.name} must be <= ${flag.max}, got ${n}`);
  return n;
}

/** Parses argv (without node and script); throws an Error with a precise message on bad input. */
export function parseSimArgs(argv: readonly string[]): SimCliConfig {
  const d: Draft = {
    prefill: 0,
    decode: 0,
    plain: 0,
    host: '127.0.0.1',
    advertiseHost: undefined,
    basePort: 0,
    seed: 0,
    controlHost: '127.0.0.1',
    controlPort: 0,
    timing: {},
    generation: {},
    faults: {},
    help: false,
  };
  const byName = new Map(SIM_FLAGS.map((f) => [f.name, f]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') continue;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}' (flags start with --; see --help)`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const flag = byName.get(name);
    if (flag === undefined) throw new Error(`unknown flag --${name} (see --help)`);
    let raw: string;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else if (flag.kind === 'boolean') {
      const next = argv[i + 1];
      if (next === 'true' || next === 'false') {
        raw = next;
        i++;
      } else raw = 'true';
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new Error(`--${name} needs a value`);
      raw = next;
      i++;
    }
    flag.apply(d, parseValue(flag, raw));
  }
  const total = d.prefill + d.decode + d.plain;
  if (!d.help && total === 0) throw new Error('no pods: give --prefill, --decode and/or --plain');
  if (d.basePort !== 0 && d.basePort + total > 65536)
    throw new Error(`--base-port ${d.basePort} leaves no room for ${total} pods`);
  const eosMin = d.generation.eosMinTokens ?? DEFAULT_GENERATION.eosMinTokens;
  const eosMax = d.generation.eosMaxTokens ?? DEFAULT_GENERATION.eosMaxTokens;
  if (eosMin > eosMax) throw new Error(`--eos-min-tokens (${eosMin}) must not exceed --eos-max-tokens (${eosMax})`);
  return Object.freeze({
    fleet: Object.freeze({
      prefill: d.prefill,
      decode: d.decode,
      plain: d.plain,
      host: d.host,
      ...(d.advertiseHost !== undefined ? { advertiseHost: d.advertiseHost } : {}),
      basePort: d.basePort,
      seed: d.seed,
      timing: Object.freeze(d.timing),
      generation: Object.freeze(d.generation),
      faults: Object.freeze(d.faults),
    }),
    controlHost: d.controlHost,
    controlPort: d.controlPort,
    help: d.help,
  });
}

export function simHelpText(): string {
  const lines = [
    'Usage: node packages/vllm-sim/src/main.ts --prefill N --decode N [--plain N] [flags]',
    '',
    'Simulated vLLM pods (OpenAI API + P/D kv_transfer_params + /metrics), N pods on N ports in one process.',
    'Prints one JSON line {"event":"ready","pods":[...],"control":"http://..."} when listening; stops on SIGTERM/SIGINT.',
    '',
    'Flags (--name value or --name=value):',
  ];
  for (const f of SIM_FLAGS) {
    const value = f.kind === 'boolean' ? '' : f.kind === 'string' ? ' <text>' : ` <${f.kind}>`;
    lines.push(`${`  --${f.name}${value}`.padEnd(36)}${f.help} (default: ${f.defaultText})`);
  }
  return `${lines.join('\n')}\n`;
}
