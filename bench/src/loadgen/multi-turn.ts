import type { ChatMessage, SampleRequest } from './dataset.ts';
import { VOCABULARY } from './dataset.ts';
import { emptyOutput, type RequestOutput } from './metrics.ts';
import { SeededRandom } from './rng.ts';
import type { Target } from './targets.ts';

/**
 * Multi-turn chat sessions (beyond vLLM's datasets, for cache-affinity runs): S system prompts shared by the
 * sessions (session i uses system prompt i mod S), each session a conversation of T turns whose history grows by
 * the user message and the model's actual answer every turn. A session's turns run one after the other; up to
 * --max-concurrency sessions run at once.
 */
export interface MultiTurnOptions {
  readonly systemPrompts: number;
  readonly systemPromptLen: number;
  readonly sessions: number;
  readonly turns: number;
  readonly userLen: number;
  readonly outputLen: number;
  readonly seed: number;
  readonly requestIdPrefix: string;
}

export interface SessionPlan {
  readonly index: number;
  readonly system: string;
  readonly users: readonly string[];
}

function words(rng: SeededRandom, n: number): string {
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = VOCABULARY[rng.int(0, VOCABULARY.length - 1)] as string;
  return out.join(' ');
}

export function planSessions(o: MultiTurnOptions): SessionPlan[] {
  for (const [name, v] of Object.entries({
    systemPrompts: o.systemPrompts,
    sessions: o.sessions,
    turns: o.turns,
    userLen: o.userLen,
  })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`multi-turn ${name} must be a positive integer`);
  }
  const rng = new SeededRandom(o.seed);
  const systems = Array.from({ length: o.systemPrompts }, () => words(rng, o.systemPromptLen));
  return Array.from({ length: o.sessions }, (_, index) => ({
    index,
    system: systems[index % o.systemPrompts] as string,
    users: Array.from({ length: o.turns }, () => words(rng, o.userLen)),
  }));
}

export interface MultiTurnRun {
  /** Every request's output, session by session, turn by turn. */
  readonly outputs: RequestOutput[];
  readonly turnOf: number[];
  readonly durationS: number;
  readonly clientCpuS: number;
}

export async function runMultiTurn(
  o: MultiTurnOptions,
  maxConcurrentSessions: number,
  target: Target,
  model: string,
): Promise<MultiTurnRun> {
  const plans = planSessions(o);
  const outputs: RequestOutput[] = [];
  const turnOf: number[] = [];
  let next = 0;
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    for (;;) {
      const plan = plans[next++];
      if (plan === undefined) return;
      const history: ChatMessage[] = [{ role: 'system', content: plan.system }];
      for (const [turn, user] of plan.users.entries()) {
        history.push({ role: 'user', content: user });
        const sample: SampleRequest = {
          prompt: user,
          chatMessages: [...history],
          promptLen: 0,
          expectedOutputLen: o.outputLen,
          requestId: `${o.requestIdPrefix}${plan.index}-${turn}`,
        };
        const out = emptyOutput(0);
        const startMs = performance.now();
        out.startTime = startMs / 1000;
        await target.send(sample, model, out, startMs);
        outputs.push(out);
        turnOf.push(turn);
        // The next turn carries the model's answer (or nothing when the turn failed).
        history.push({ role: 'assistant', content: out.generatedText.trim() });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(maxConcurrentSessions, plans.length) }, worker));
  const durationS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { outputs, turnOf, durationS, clientCpuS: (cpu.user + cpu.system) / 1e6 };
}
