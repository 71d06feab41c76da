import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Child, runToEnd, startChild } from './child-process.ts';
import { REPO_ROOT } from './machine.ts';

/** Start-up deadlines for the processes a scenario launches. */
export const SIM_READY_TIMEOUT_MS = 60_000;
export const PROXY_READY_TIMEOUT_MS = 60_000;

export interface SimPodInfo {
  readonly name: string;
  readonly role: 'prefill' | 'decode' | 'both';
  readonly url: string;
}

export interface SimFleetProcess {
  readonly child: Child;
  readonly pods: readonly SimPodInfo[];
  readonly prefill: readonly string[];
  readonly decode: readonly string[];
  readonly plain: readonly string[];
  readonly control: string;
}

/** The simulator CLI in its own process (its own event loop), ready when it prints its ready line. */
export async function startSimFleetProcess(args: readonly string[]): Promise<SimFleetProcess> {
  const { child, ready } = await startChild({
    name: 'vllm-sim',
    command: process.execPath,
    args: [join(REPO_ROOT, 'packages/vllm-sim/src/main.ts'), '--host', '127.0.0.1', ...args],
    readyTimeoutMs: SIM_READY_TIMEOUT_MS,
    ready: (line) => {
      if (!line.startsWith('{')) return undefined;
      const msg = JSON.parse(line) as { event?: string; pods?: SimPodInfo[]; control?: string };
      return msg.event === 'ready' && Array.isArray(msg.pods) ? msg : undefined;
    },
  });
  const pods = ready.pods as SimPodInfo[];
  const urls = (role: string): string[] => pods.filter((p) => p.role === role).map((p) => p.url);
  return {
    child,
    pods,
    prefill: urls('prefill'),
    decode: urls('decode'),
    plain: urls('both'),
    control: ready.control ?? '',
  };
}

export interface ProxyProcess {
  readonly child: Child;
  readonly url: string;
  readonly metricsUrl: string;
}

/** pdrouter's proxy in its own process, ready at its "listening" log line. */
export async function startProxyProcess(
  args: readonly string[],
  nodeArgs: readonly string[] = [],
  /** Another proxy entry point (a baseline revision's main.ts). */
  main: string = join(REPO_ROOT, 'apps/proxy/src/main.ts'),
): Promise<ProxyProcess> {
  const { child, ready } = await startChild({
    name: 'pdrouter-proxy',
    command: process.execPath,
    args: [...nodeArgs, main, ...args],
    readyTimeoutMs: PROXY_READY_TIMEOUT_MS,
    // info level: the 'listening' line is an info line (per-request logging stays off at info).
    env: { ...process.env, PDROUTER_LOG_LEVEL: 'info' },
    ready: (line) => {
      if (!line.includes('"msg":"listening"')) return undefined;
      const msg = JSON.parse(line) as { url?: string; metricsUrl?: string };
      return typeof msg.url === 'string' ? { url: msg.url, metricsUrl: msg.metricsUrl ?? '' } : undefined;
    },
  });
  return { child, url: ready.url.replace(/\/+$/, ''), metricsUrl: ready.metricsUrl };
}

/** In scenarios a request silent for this long is a failure (counted and reported), not a hung run. */
export const SCENARIO_IDLE_TIMEOUT_S = 30;

/** Deadline for one load generator run: generous, since a full seed run at low concurrency takes minutes. */
export const LOADGEN_TIMEOUT_MS = 30 * 60_000;

/**
 * Runs the load generator CLI in its own process and returns its result JSON (vLLM's keys) and printed table.
 */
export async function runLoadgenProcess(
  args: readonly string[],
): Promise<{ result: Record<string, unknown>; table: string }> {
  const file = join(
    tmpdir(),
    `pdrouter-loadgen-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}.json`,
  );
  const { code, stdout, stderr } = await runToEnd({
    command: process.execPath,
    args: [
      join(REPO_ROOT, 'bench/src/loadgen.ts'),
      '--idle-timeout-sec',
      String(SCENARIO_IDLE_TIMEOUT_S),
      ...args,
      '--save-result',
      '--result-filename',
      file,
      '--quiet',
    ],
    timeoutMs: LOADGEN_TIMEOUT_MS,
  });
  // Exit code 1 with a result file means every request failed: the result (and its errors) is still the answer.
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(`loadgen exited with ${code} and wrote no result: ${stderr.slice(-2000)}\n${stdout.slice(-2000)}`);
  } finally {
    await rm(file, { force: true });
  }
  const result = JSON.parse(text) as Record<string, unknown>;
  return { result, table: stdout.trim() };
}
