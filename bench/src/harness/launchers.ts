import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand, type SpawnedProcess, spawnProcess } from '@pdrouter/testkit';
import { freePort } from './free-port.ts';
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
  readonly child: SpawnedProcess;
  readonly pods: readonly SimPodInfo[];
  readonly prefill: readonly string[];
  readonly decode: readonly string[];
  readonly plain: readonly string[];
  readonly control: string;
}

interface SimReady {
  readonly pods: SimPodInfo[];
  readonly control?: string;
}

/** The simulator's ready line (`{"event":"ready","pods":[...]}`), or undefined for any other line. */
function readyMessage(line: string): SimReady | undefined {
  const msg = jsonLine(line) as { event?: string; pods?: SimPodInfo[]; control?: string } | undefined;
  return msg?.event === 'ready' && Array.isArray(msg.pods) ? { pods: msg.pods, control: msg.control } : undefined;
}

/** A JSON log line, or undefined for a line that is not one. */
function jsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The simulator CLI in its own process (its own event loop), ready when it prints its ready line. */
export async function startSimFleetProcess(args: readonly string[]): Promise<SimFleetProcess> {
  const isReady = (line: string) => readyMessage(line) !== undefined;
  const child = await spawnProcess(
    process.execPath,
    [join(REPO_ROOT, 'packages/vllm-sim/src/main.ts'), '--host', '127.0.0.1', ...args],
    { name: 'vllm-sim', readyLine: isReady, timeoutMs: SIM_READY_TIMEOUT_MS },
  );
  const ready = readyMessage(child.lines.find(isReady) ?? '') as SimReady;
  const pods = ready.pods;
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

/** The --prefill and --decode flags for every P/D pod of a sim process (the proxy's and the load generator's). */
export function pdPodFlags(sim: Pick<SimFleetProcess, 'prefill' | 'decode'>): string[] {
  return [...sim.prefill.flatMap((u) => ['--prefill', u]), ...sim.decode.flatMap((u) => ['--decode', u])];
}

/** A proxy listening on 127.0.0.1 at `port`, its metrics on a port the system picks. */
export function localListenFlags(port: number): string[] {
  return ['--host', '127.0.0.1', '--port', String(port), '--prometheus-port', '0'];
}

export interface ProxyProcess {
  readonly child: SpawnedProcess;
  readonly url: string;
  readonly metricsUrl: string;
}

/** The proxy's "listening" log line, or undefined for any other line. */
function listeningMessage(line: string): { url: string; metricsUrl: string } | undefined {
  const msg = jsonLine(line) as { msg?: string; url?: string; metricsUrl?: string } | undefined;
  if (msg?.msg !== 'listening' || typeof msg.url !== 'string') return undefined;
  return { url: msg.url, metricsUrl: msg.metricsUrl ?? '' };
}

/** pdrouter's proxy in its own process, ready at its "listening" log line. */
export async function startProxyProcess(
  args: readonly string[],
  nodeArgs: readonly string[] = [],
  /** Another proxy entry point (a baseline revision's main.ts). */
  main: string = join(REPO_ROOT, 'apps/proxy/src/main.ts'),
): Promise<ProxyProcess> {
  const child = await spawnProcess(process.execPath, [...nodeArgs, main, ...args], {
    name: 'pdrouter-proxy',
    // info level: the 'listening' line is an info line (per-request logging stays off at info).
    env: { ...process.env, PDROUTER_LOG_LEVEL: 'info' },
    readyLine: (line) => listeningMessage(line) !== undefined,
    timeoutMs: PROXY_READY_TIMEOUT_MS,
  });
  const ready = listeningMessage(child.lines.find((line) => listeningMessage(line) !== undefined) ?? '') as {
    url: string;
    metricsUrl: string;
  };
  return { child, url: ready.url.replace(/\/+$/, ''), metricsUrl: ready.metricsUrl };
}

/**
 * pdrouter's proxy in P/D mode in front of every pod of `sim`, listening on a free local port, with
 * `args` (a policy, a variant's flags) before the listening and pod flags.
 */
export async function startPdProxyProcess(
  sim: Pick<SimFleetProcess, 'prefill' | 'decode'>,
  args: readonly string[],
): Promise<ProxyProcess> {
  return startProxyProcess(['--pd-disaggregation', ...args, ...localListenFlags(await freePort()), ...pdPodFlags(sim)]);
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
  const { code, stdout, stderr } = await runCommand(
    process.execPath,
    [
      join(REPO_ROOT, 'bench/src/loadgen.ts'),
      '--idle-timeout-sec',
      String(SCENARIO_IDLE_TIMEOUT_S),
      ...args,
      '--save-result',
      '--result-filename',
      file,
      '--quiet',
    ],
    { timeoutMs: LOADGEN_TIMEOUT_MS },
  );
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

/** The warm-up before a scenario measures (JIT, connection pools, the pods' caches): a short run at concurrency 32. */
const WARMUP_PROMPTS = 64;
const WARMUP_OUTPUT_LEN = 32;

/** One warm-up run of the load generator, not recorded; `args` name the target (and the input length). */
export async function runWarmUpLoad(args: readonly string[]): Promise<void> {
  await runLoadgenProcess([
    ...args,
    '--num-prompts',
    String(WARMUP_PROMPTS),
    '--random-output-len',
    String(WARMUP_OUTPUT_LEN),
    '--max-concurrency',
    '32',
    '--seed',
    '999',
  ]);
}
