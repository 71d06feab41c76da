// Test helpers: real simulated pods in a child process (the sim CLI), a real proxy on port 0, metric
// scraping. Every wait has a deadline so a regression fails fast instead of hanging.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ConsistentHashRing, fbiHash } from '@pdrouter/core';
import { metricSum, type SpawnedProcess, StopWaiting, spawnProcess, waitUntil } from '@pdrouter/testkit';
import { NO_FAULTS } from '@pdrouter/vllm-sim';
import { buildConfig } from '../src/config.ts';
import { parseFlags } from '../src/flags.ts';
import { createProxy, type ProxyInstance } from '../src/proxy.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
export const SIM_MAIN = join(REPO_ROOT, 'packages', 'vllm-sim', 'src', 'main.ts');
export const PROXY_MAIN = join(REPO_ROOT, 'apps', 'proxy', 'src', 'main.ts');
/** Generous: two cores shared with other suites. */
export const PROCESS_START_TIMEOUT_MS = 20_000;
/** The model name the tests' requests carry (the sim serves any). */
export const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

export interface SimPodInfo {
  name: string;
  role: string;
  url: string;
}

export interface SimProcess {
  readonly spawned: SpawnedProcess;
  readonly pods: SimPodInfo[];
  readonly control: string;
  urls(role: 'prefill' | 'decode' | 'both'): string[];
  stats(): Promise<Record<string, SimStats>>;
  post(path: string, body?: unknown): Promise<void>;
  /** Every pod's faults cleared (NO_FAULTS) and every stopped pod started again, for an afterEach. */
  heal(): Promise<void>;
  close(): Promise<void>;
}

export interface SimStats {
  name: string;
  url: string;
  requests: number;
  prefillRequests: number;
  remotePrefillHits: number;
  localPrefillFallbacks: number;
  cancelled: number;
  dropped: number;
  completed: number;
  [key: string]: unknown;
}

/** A log line as JSON, or undefined for a line that is not JSON. */
function jsonOf(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The first JSON log line on the process's stdout that `pick` accepts, as `pick` returns it. */
export async function waitForJsonLine<T>(
  p: SpawnedProcess,
  pick: (obj: Record<string, unknown>) => T | undefined,
  timeoutMs: number,
): Promise<T> {
  const picked = (line: string): T | undefined => {
    const obj = jsonOf(line);
    return obj === undefined ? undefined : pick(obj);
  };
  return picked(await p.waitFor((line) => picked(line) !== undefined, { timeoutMs, stream: 'stdout' })) as T;
}

/** Every JSON log line the process wrote on stdout so far. */
export function jsonLines(p: SpawnedProcess): Record<string, unknown>[] {
  return p.lines.map(jsonOf).filter((o) => o !== undefined);
}

export async function startSimProcess(args: string[]): Promise<SimProcess> {
  const isReady = (line: string): boolean => jsonOf(line)?.event === 'ready';
  const spawned = await spawnProcess(
    process.execPath,
    [SIM_MAIN, '--host', '127.0.0.1', '--base-port', '0', '--control-port', '0', ...args],
    { name: 'vllm-sim', readyLine: isReady, timeoutMs: PROCESS_START_TIMEOUT_MS },
  );
  const ready = jsonOf(spawned.lines.find(isReady) as string) as unknown as { pods: SimPodInfo[]; control: string };
  const post = async (path: string, body?: unknown) => {
    const res = await fetch(`${ready.control}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`control ${path}: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  return {
    spawned,
    pods: ready.pods,
    control: ready.control,
    urls: (role) => ready.pods.filter((p) => p.role === role).map((p) => p.url),
    async stats() {
      const res = await fetch(`${ready.control}/pods`, { signal: AbortSignal.timeout(5000) });
      const body = (await res.json()) as SimStats[] | { pods: SimStats[] };
      const list = Array.isArray(body) ? body : body.pods;
      return Object.fromEntries(list.map((s) => [s.name, s]));
    },
    post,
    async heal() {
      for (const p of ready.pods) await post(`/pods/${p.name}/faults`, NO_FAULTS);
      for (const p of ready.pods) await post(`/pods/${p.name}/start`);
    },
    close: async () => {
      await spawned.stop();
    },
  };
}

export interface RunningProxy {
  readonly proxy: ProxyInstance;
  readonly url: string;
  readonly metricsUrl: string;
  close(): Promise<void>;
}

/** A proxy's listening flags in tests: 127.0.0.1, both ports chosen by the system. */
export const LOCAL_LISTEN_FLAGS: readonly string[] = ['--host', '127.0.0.1', '--port', '0', '--prometheus-port', '0'];

export async function startProxy(argv: string[]): Promise<RunningProxy> {
  const config = buildConfig(parseFlags([...LOCAL_LISTEN_FLAGS, ...argv]));
  const proxy = await createProxy(config, { defaultMetrics: false });
  const { url, metricsUrl } = await proxy.listen();
  return { proxy, url, metricsUrl, close: () => proxy.close() };
}

/** A proxy running as a process of its own, once it logged its "listening" line. */
export interface ProxyProcess {
  readonly child: SpawnedProcess;
  readonly url: string;
  readonly metricsUrl: string;
}

/** The proxy as a process (main.ts) with exactly this command line, as soon as it is spawned. */
export function spawnProxyProcess(args: readonly string[], env?: NodeJS.ProcessEnv): Promise<SpawnedProcess> {
  return spawnProcess(process.execPath, [PROXY_MAIN, ...args], { name: 'pdrouter-proxy', ...(env ? { env } : {}) });
}

/** Waits for a proxy process's "listening" line: its URL and metrics URL. */
export async function proxyListening(child: SpawnedProcess): Promise<ProxyProcess> {
  const listening = await waitForJsonLine(
    child,
    (o) => (o.msg === 'listening' ? (o as { url: string; metricsUrl: string }) : undefined),
    PROCESS_START_TIMEOUT_MS,
  );
  return { child, url: listening.url, metricsUrl: listening.metricsUrl };
}

/** P/D flags for a sim process's pods. */
export function pdArgs(sim: SimProcess): string[] {
  return [
    '--pd-disaggregation',
    ...sim.urls('prefill').flatMap((u) => ['--prefill', u]),
    ...sim.urls('decode').flatMap((u) => ['--decode', u]),
  ];
}

/** The sim pod names a session's requests go to, in failover order: vllm-router's P/D key is `user:{session}`. */
export function sessionWalk(sim: SimProcess, role: 'prefill' | 'decode', session: string): string[] {
  const byUrl = new Map(sim.pods.map((p) => [p.url, p.name]));
  return new ConsistentHashRing(sim.urls(role)).walkHash(fbiHash(`user:${session}`)).map((u) => byUrl.get(u) as string);
}

/** A prompt vllm-router's P/D key scan reads as `user:{session}`. */
export const sessionPrompt = (session: string) => `user: ${session}, tell me a story`;

/** A proxy's /admin/state. */
export async function adminState<T>(proxyUrl: string): Promise<T> {
  const res = await fetch(`${proxyUrl}/admin/state`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`/admin/state: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Listens on 127.0.0.1, a port the system chooses; resolves with the server's http:// URL. */
export async function listenLocal(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes a server, cutting its open connections (a pod that may still be writing a long answer). */
export function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A local URL nothing listens on (a port the system handed out, then closed). */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  const url = await listenLocal(server);
  await new Promise<void>((r) => server.close(() => r()));
  return url;
}

export async function scrape(metricsUrl: string): Promise<string> {
  const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) });
  return res.text();
}

/** The sum of the samples named `name` carrying these labels (a subset match), 0 when absent. */
export const metricValue = metricSum;

/**
 * Polls until `check` returns a value (not undefined, so 0 and false count), or throws after the deadline.
 * testkit's waitUntil does the polling; a throwing check ends the wait at once.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const found = await waitUntil(
    async () => {
      let value: T | undefined;
      try {
        value = await check();
      } catch (err) {
        throw new StopWaiting(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
      return value === undefined ? undefined : { value };
    },
    { timeoutMs, intervalMs: everyMs, description: what },
  );
  return found.value;
}

/** Sum of one numeric stat over pods. */
export function sumStat(stats: Record<string, SimStats>, key: keyof SimStats, names?: string[]): number {
  return Object.values(stats)
    .filter((s) => !names || names.includes(s.name))
    .reduce((acc, s) => acc + Number(s[key] ?? 0), 0);
}
