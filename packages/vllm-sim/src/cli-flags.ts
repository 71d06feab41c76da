// The simulator's command line, declared once in SIM_FLAGS: the parser and `--help` are built from it.
import { type FlagSpec, flagParser, helpText, UsageError } from '@pdrouter/cli';
import { podNames, type SimFleetOptions } from './fleet.ts';
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

const T = DEFAULT_TIMING;
const G = DEFAULT_GENERATION;
const F = NO_FAULTS;

/** Every flag of `node packages/vllm-sim/src/main.ts`. */
export const SIM_FLAGS = [
  { name: 'prefill', type: 'int', default: 0, min: 0, help: 'Number of prefill pods (prefill-0..).' },
  { name: 'decode', type: 'int', default: 0, min: 0, help: 'Number of decode pods (decode-0..).' },
  {
    name: 'plain',
    type: 'int',
    default: 0,
    min: 0,
    help: "Number of pods serving both phases (plain-0.., role 'both').",
  },
  { name: 'host', type: 'string', default: '127.0.0.1', help: 'Bind address of every pod.' },
  {
    name: 'advertise-host',
    type: 'string',
    defaultText: 'host (127.0.0.1 when host is a wildcard)',
    help: 'Host put in pod urls and in kv_transfer_params.remote_host. Set it to the pod IP when binding 0.0.0.0.',
  },
  {
    name: 'base-port',
    type: 'int',
    default: 0,
    min: 0,
    max: 65535,
    help: 'First pod port; pods take consecutive ports (prefill, decode, plain). 0 = random free ports.',
  },
  { name: 'control-host', type: 'string', default: '127.0.0.1', help: 'Bind address of the control server.' },
  {
    name: 'control-port',
    type: 'int',
    default: 0,
    min: 0,
    max: 65535,
    help: 'Port of the control server (GET /pods, POST /pods/{name}/faults|stop|start). 0 = random.',
  },
  { name: 'model', type: 'string', default: G.model, help: "Served model name; other names get vLLM's 404." },
  {
    name: 'max-model-len',
    type: 'int',
    default: G.maxModelLen,
    min: 2,
    help: 'Longest prompt + output in tokens (longer requests get a 400).',
  },
  {
    name: 'eos-min-tokens',
    type: 'int',
    default: G.eosMinTokens,
    min: 1,
    help: 'Shortest natural answer when ignore_eos is false.',
  },
  {
    name: 'eos-max-tokens',
    type: 'int',
    default: G.eosMaxTokens,
    min: 1,
    help: 'Longest natural answer when ignore_eos is false.',
  },
  {
    name: 'enable-prompt-tokens-details',
    type: 'bool',
    default: G.promptTokensDetails,
    help: 'Report cached prompt tokens in usage.prompt_tokens_details (as vLLM with this flag).',
  },
  {
    name: 'seed',
    type: 'int',
    default: 0,
    help: 'Seed of every random choice (engine ids, answer lengths, faults, spikes).',
  },
  {
    name: 'request-overhead-ms',
    type: 'number',
    default: T.requestOverheadMs,
    min: 0,
    help: 'Cost before a request reaches the scheduler, ms.',
  },
  { name: 'step-base-ms', type: 'number', default: T.stepBaseMs, min: 0, help: 'Fixed cost of one engine step, ms.' },
  {
    name: 'step-per-seq-ms',
    type: 'number',
    default: T.stepPerSeqMs,
    min: 0,
    help: 'Added step cost per sequence in the batch, ms.',
  },
  {
    name: 'prefill-per-token-ms',
    type: 'number',
    default: T.prefillPerTokenMs,
    min: 0,
    help: 'Added step cost per uncached prompt token, ms.',
  },
  {
    name: 'max-num-seqs',
    type: 'int',
    default: T.maxNumSeqs,
    min: 1,
    help: 'Most running sequences per pod; the rest wait.',
  },
  {
    name: 'max-num-batched-tokens',
    type: 'int',
    default: T.maxNumBatchedTokens,
    min: 1,
    help: 'Token budget of one step (long prefills are chunked).',
  },
  {
    name: 'block-size',
    type: 'int',
    default: T.blockSize,
    min: 1,
    help: 'Tokens per KV block (prefix-cache granularity).',
  },
  {
    name: 'num-gpu-blocks',
    type: 'int',
    default: T.numGpuBlocks,
    min: 1,
    help: 'KV blocks per pod (prefix-cache capacity, kv_cache_usage_perc).',
  },
  {
    name: 'kv-transfer-base-ms',
    type: 'number',
    default: T.kvTransferBaseMs,
    min: 0,
    help: 'Fixed cost of a KV pull by a decode pod, ms.',
  },
  {
    name: 'kv-transfer-per-token-ms',
    type: 'number',
    default: T.kvTransferPerTokenMs,
    min: 0,
    help: 'Added KV pull cost per transferred token, ms.',
  },
  {
    name: 'kv-ttl-ms',
    type: 'number',
    default: T.kvTtlMs,
    min: 0,
    help: "How long a prefill pod keeps KV blocks for its decode pod (vLLM's abort timeout), ms.",
  },
  {
    name: 'pod-speed',
    type: 'list',
    valueName: 'POD=FACTOR[,...]',
    help: 'Speed factor of single pods, e.g. decode-3=0.5 (each engine step takes twice as long there); others run at 1.',
  },
  {
    name: 'no-think',
    type: 'bool',
    default: T.zeroDelay,
    help: 'Zero-delay mode: no simulated time at all, tokens as fast as sockets take them.',
  },
  ...(['429', '500', '503'] as const).map((status) => ({
    name: `error-rate-${status}` as const,
    type: 'number' as const,
    default: 0,
    min: 0,
    max: 1,
    help: status === '429' ? 'Fraction of inference requests answered 429.' : `Fraction answered ${status}.`,
  })),
  {
    name: 'stall-before-headers-ms',
    type: 'number',
    default: F.stallBeforeHeadersMs,
    help: 'Hold requests before headers, ms (0 off, -1 until the client leaves).',
  },
  {
    name: 'stall-after-tokens',
    type: 'int',
    default: F.stallAfterTokens,
    min: -1,
    help: 'Stop sending after N tokens (-1 off).',
  },
  {
    name: 'stall-ms',
    type: 'number',
    default: F.stallMs,
    min: 0,
    help: 'Length of that mid-stream stall, ms (0 = until the client leaves).',
  },
  {
    name: 'drop-after-tokens',
    type: 'int',
    default: F.dropAfterTokens,
    min: -1,
    help: 'Destroy the connection after N tokens (-1 off).',
  },
  {
    name: 'slow-start-ms',
    type: 'number',
    default: F.notReadyMs,
    min: 0,
    help: 'Not ready (503 on /health and inference) for this long after start, ms.',
  },
  {
    name: 'latency-spike-rate',
    type: 'number',
    default: F.latencySpikeRate,
    min: 0,
    max: 1,
    help: 'Probability that an engine step is slowed by a latency spike.',
  },
  {
    name: 'latency-spike-ms',
    type: 'number',
    default: F.latencySpikeMs,
    min: 0,
    help: 'Extra duration of a spiked step, ms.',
  },
  { name: 'help', type: 'bool', default: false, help: 'Print this help and exit.' },
] as const satisfies readonly FlagSpec[];

const parser = flagParser(SIM_FLAGS);

/** `--pod-speed decode-3=0.5,prefill-1=0.8` (or one item per value) to a frozen name -> factor map. */
function parsePodSpeed(items: readonly string[], names: readonly string[]): Readonly<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const item of items.flatMap((i) => i.split(',')).map((i) => i.trim())) {
    if (item === '') continue;
    const m = /^([^=\s]+)=(.+)$/.exec(item);
    if (!m) throw new UsageError(`--pod-speed expects POD=FACTOR (e.g. decode-3=0.5), got ${JSON.stringify(item)}`);
    const name = m[1] ?? '';
    const raw = m[2] ?? '';
    const factor = Number(raw);
    if (!Number.isFinite(factor) || factor <= 0 || raw.trim() === '')
      throw new UsageError(`--pod-speed ${name}: the factor must be a number > 0, got ${JSON.stringify(raw)}`);
    if (!names.includes(name))
      throw new UsageError(`--pod-speed ${name}: no such pod (this fleet has ${names.join(', ') || 'no pods'})`);
    if (name in out) throw new UsageError(`--pod-speed ${name} is given twice`);
    out[name] = factor;
  }
  return Object.freeze(out);
}

/** Parses argv (without node and script); throws UsageError with a precise message on bad input. */
export function parseSimArgs(argv: readonly string[]): SimCliConfig {
  // `pnpm run sim -- --plain 1` passes the separator on.
  const { values: v } = parser.parse(argv[0] === '--' ? argv.slice(1) : argv);
  const total = v.prefill + v.decode + v.plain;
  if (!v.help && total === 0) throw new UsageError('no pods: give --prefill, --decode and/or --plain');
  if (v['base-port'] !== 0 && v['base-port'] + total > 65536)
    throw new UsageError(`--base-port ${v['base-port']} leaves no room for ${total} pods`);
  if (v['eos-min-tokens'] > v['eos-max-tokens']) {
    throw new UsageError(
      `--eos-min-tokens (${v['eos-min-tokens']}) must not exceed --eos-max-tokens (${v['eos-max-tokens']})`,
    );
  }
  const timing: TimingOptions = {
    requestOverheadMs: v['request-overhead-ms'],
    stepBaseMs: v['step-base-ms'],
    stepPerSeqMs: v['step-per-seq-ms'],
    prefillPerTokenMs: v['prefill-per-token-ms'],
    maxNumSeqs: v['max-num-seqs'],
    maxNumBatchedTokens: v['max-num-batched-tokens'],
    blockSize: v['block-size'],
    numGpuBlocks: v['num-gpu-blocks'],
    kvTransferBaseMs: v['kv-transfer-base-ms'],
    kvTransferPerTokenMs: v['kv-transfer-per-token-ms'],
    kvTtlMs: v['kv-ttl-ms'],
    speed: DEFAULT_TIMING.speed,
    zeroDelay: v['no-think'],
  };
  const generation: GenerationOptions = {
    model: v.model,
    maxModelLen: v['max-model-len'],
    eosMinTokens: v['eos-min-tokens'],
    eosMaxTokens: v['eos-max-tokens'],
    promptTokensDetails: v['enable-prompt-tokens-details'],
  };
  const faults: Faults = {
    errorRate429: v['error-rate-429'],
    errorRate500: v['error-rate-500'],
    errorRate503: v['error-rate-503'],
    stallBeforeHeadersMs: v['stall-before-headers-ms'],
    stallAfterTokens: v['stall-after-tokens'],
    stallMs: v['stall-ms'],
    dropAfterTokens: v['drop-after-tokens'],
    notReadyMs: v['slow-start-ms'],
    latencySpikeRate: v['latency-spike-rate'],
    latencySpikeMs: v['latency-spike-ms'],
  };
  const names = [...podNames('prefill', v.prefill), ...podNames('decode', v.decode), ...podNames('plain', v.plain)];
  const podSpeed = parsePodSpeed(v['pod-speed'], names);
  const advertiseHost = v['advertise-host'];
  return Object.freeze({
    fleet: Object.freeze({
      prefill: v.prefill,
      decode: v.decode,
      plain: v.plain,
      host: v.host,
      ...(advertiseHost !== undefined ? { advertiseHost } : {}),
      basePort: v['base-port'],
      seed: v.seed,
      timing: Object.freeze(timing),
      generation: Object.freeze(generation),
      faults: Object.freeze(faults),
      podSpeed,
    }),
    controlHost: v['control-host'],
    controlPort: v['control-port'],
    help: v.help,
  });
}

export function simHelpText(): string {
  return helpText(
    [
      'Usage: node packages/vllm-sim/src/main.ts --prefill N --decode N [--plain N] [flags]',
      '',
      'Simulated vLLM pods (OpenAI API + P/D kv_transfer_params + /metrics), N pods on N ports in one process.',
      'Prints one JSON line {"event":"ready","pods":[...],"control":"http://..."} when listening; stops on SIGTERM/SIGINT.',
      '',
    ],
    [{ title: 'Flags (--name value or --name=value):', flags: SIM_FLAGS }],
  );
}
