// The workloads of `bench fleet` (and `bench affinity`), described once: the load generator's flags, the sim's
// fleet flags, and an offline rebuild of every prompt the run sends (for the ideal hit rate and the replayed
// requests of the agreement probe). Multi-turn answers are rebuilt with the simulator's own answer rule, so the
// rebuilt conversations are the ones the pods see.
import { answerText, parseSimRequest } from '@pdrouter/vllm-sim';
import { type ChatMessage, sampleRandomDataset } from '../loadgen/dataset.ts';
import { type MultiTurnOptions, planSessions } from '../loadgen/multi-turn.ts';

export interface MultiTurnShape extends Omit<MultiTurnOptions, 'seed' | 'requestIdPrefix'> {
  readonly kind: 'multi-turn';
  readonly concurrentSessions: number;
}

export interface RandomShape {
  readonly kind: 'random';
  readonly numPrompts: number;
  readonly inputLen: number;
  readonly outputLen: number;
  /** Tokens of one random prefix shared by every prompt (vLLM's --random-prefix-len). */
  readonly prefixLen: number;
  readonly maxConcurrency: number;
  /** Requests per second (gamma arrivals); undefined = all at once, limited by maxConcurrency. */
  readonly requestRate?: number;
  /** Gamma shape of the gaps: 1 = Poisson, below 1 = bursts. */
  readonly burstiness?: number;
}

export type WorkloadShape = MultiTurnShape | RandomShape;

export interface Workload {
  readonly name: string;
  readonly title: string;
  /** Extra vllm-sim flags for this workload's fleet (e.g. slow pods). */
  readonly simArgs: readonly string[];
  readonly shape: WorkloadShape;
}

/** Every workload uses this dataset seed, so variants see the same requests. */
export const WORKLOAD_SEED = 1;

/** Fleet shape of every workload: the seed's 8 prefill + 8 decode pods. */
export const PREFILL_PODS = 8;
export const DECODE_PODS = 8;

/** The two decode pods the heterogeneous fleet runs at half speed. */
export const SLOW_DECODE_PODS = ['decode-6', 'decode-7'] as const;
export const SLOW_POD_SPEED = 0.5;
/**
 * Sequences per pod on the heterogeneous fleet: small batches, so a pod's capacity is bounded and a slow pod's
 * queue grows (at 10 req/s an even share, 1.25 req/s per decode pod, is above what a half-speed pod serves at
 * 4 x 300 tokens, about 1.1 req/s, and about half of what a full-speed one serves).
 */
export const SMALL_BATCH = 4;

/** The multi-turn chat workload of `bench affinity` (the 75.6% / 86% numbers are on it). */
export function multiTurnChat(quick: boolean): Workload {
  return {
    name: 'multi-turn',
    title: 'multi-turn chat, 16 shared system prompts',
    simArgs: [],
    shape: {
      kind: 'multi-turn',
      systemPrompts: 16,
      systemPromptLen: 800,
      sessions: quick ? 32 : 96,
      turns: quick ? 3 : 4,
      userLen: 64,
      outputLen: 64,
      concurrentSessions: 32,
    },
  };
}

export function fleetWorkloads(quick: boolean): Workload[] {
  return [
    multiTurnChat(quick),
    {
      name: 'one-system-prompt',
      title: 'many users, one system prompt',
      simArgs: [],
      shape: {
        kind: 'multi-turn',
        systemPrompts: 1,
        systemPromptLen: 1500,
        sessions: quick ? 48 : 128,
        turns: 2,
        userLen: 64,
        outputLen: 64,
        concurrentSessions: 32,
      },
    },
    {
      name: 'random',
      title: "the seed's random prompts (no reuse)",
      simArgs: [],
      shape: {
        kind: 'random',
        numPrompts: quick ? 64 : 160,
        inputLen: 1000,
        outputLen: 200,
        prefixLen: 0,
        maxConcurrency: 64,
      },
    },
    {
      name: 'heterogeneous',
      title: `heterogeneous fleet (${SLOW_DECODE_PODS.join(', ')} at ${SLOW_POD_SPEED}x speed, ${SMALL_BATCH} sequences per pod)`,
      simArgs: [
        '--pod-speed',
        SLOW_DECODE_PODS.map((p) => `${p}=${SLOW_POD_SPEED}`).join(','),
        '--max-num-seqs',
        String(SMALL_BATCH),
      ],
      shape: {
        kind: 'random',
        numPrompts: quick ? 80 : 200,
        inputLen: 1000,
        outputLen: 300,
        prefixLen: 0,
        maxConcurrency: 128,
        requestRate: 10,
        burstiness: 1,
      },
    },
    {
      name: 'bursty',
      title: 'bursty arrivals (gamma shape 0.1), one 512-token shared prefix',
      simArgs: [],
      shape: {
        kind: 'random',
        numPrompts: quick ? 96 : 256,
        inputLen: 512,
        outputLen: 128,
        prefixLen: 512,
        maxConcurrency: 128,
        requestRate: 16,
        burstiness: 0.1,
      },
    },
  ];
}

/** The load generator's flags for a workload (without --base-url / --round-robin-url). */
export function loadgenArgs(w: Workload): string[] {
  const s = w.shape;
  const common = ['--seed', String(WORKLOAD_SEED)];
  if (s.kind === 'multi-turn') {
    return [
      '--backend',
      'openai-chat',
      '--dataset-name',
      'multi-turn',
      '--multi-turn-system-prompts',
      String(s.systemPrompts),
      '--multi-turn-system-prompt-len',
      String(s.systemPromptLen),
      '--multi-turn-sessions',
      String(s.sessions),
      '--multi-turn-turns',
      String(s.turns),
      '--multi-turn-user-len',
      String(s.userLen),
      '--random-output-len',
      String(s.outputLen),
      '--max-concurrency',
      String(s.concurrentSessions),
      ...common,
    ];
  }
  return [
    '--backend',
    'openai',
    '--dataset-name',
    'random',
    '--num-prompts',
    String(s.numPrompts),
    '--random-input-len',
    String(s.inputLen),
    '--random-output-len',
    String(s.outputLen),
    '--random-prefix-len',
    String(s.prefixLen),
    '--random-range-ratio',
    '0',
    '--max-concurrency',
    String(s.maxConcurrency),
    ...(s.requestRate === undefined ? [] : ['--request-rate', String(s.requestRate)]),
    ...(s.burstiness === undefined ? [] : ['--burstiness', String(s.burstiness)]),
    ...common,
  ];
}

/** One request of a workload, rebuilt offline: its body's prompt part and its tokens as the pods count them. */
export interface RebuiltRequest {
  readonly session: number;
  readonly turn: number;
  /** Chat workloads: the messages as sent; completions: undefined. */
  readonly messages?: readonly ChatMessage[];
  /** Completions workloads: the prompt as sent. */
  readonly prompt?: string;
  readonly tokens: readonly string[];
}

/** Every request of the workload, session by session and turn by turn (random: one turn per prompt). */
export function rebuildRequests(w: Workload): RebuiltRequest[] {
  const s = w.shape;
  const out: RebuiltRequest[] = [];
  if (s.kind === 'random') {
    const samples = sampleRandomDataset({
      numPrompts: s.numPrompts,
      inputLen: s.inputLen,
      outputLen: s.outputLen,
      rangeRatio: 0,
      prefixLen: s.prefixLen,
      seed: WORKLOAD_SEED,
      requestIdPrefix: '',
    });
    for (const [i, sample] of samples.entries()) {
      const tokens = parseSimRequest('/v1/completions', { prompt: sample.prompt }).promptWords;
      out.push({ session: i, turn: 0, prompt: sample.prompt, tokens });
    }
    return out;
  }
  const plans = planSessions({ ...s, seed: WORKLOAD_SEED, requestIdPrefix: '' });
  for (const plan of plans) {
    const history: ChatMessage[] = [{ role: 'system', content: plan.system }];
    for (const [turn, user] of plan.users.entries()) {
      history.push({ role: 'user', content: user });
      const messages = [...history];
      const tokens = parseSimRequest('/v1/chat/completions', { messages }).promptWords;
      out.push({ session: plan.index, turn, messages, tokens });
      history.push({ role: 'assistant', content: answerText(tokens, s.outputLen).trim() });
    }
  }
  return out;
}

/** Prompt tokens the workload sends in total (every request's prompt, as the pods count them). */
export function totalPromptTokens(requests: readonly RebuiltRequest[]): number {
  return requests.reduce((a, r) => a + r.tokens.length, 0);
}
