import { waitUntil } from '@pdrouter/testkit';
import { getJson, type LocalCluster, type ProxyStateView, type SimPod } from '../../scripts/local-cluster.ts';

export const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
/** Deadline of one generation request in the e2e tests (tiny outputs; generous for a loaded machine). */
export const REQUEST_TIMEOUT_MS = 15_000;

export interface ExpectedRings {
  prefill: string[];
  decode: string[];
}

/** The ring members (URLs) the proxies should have for the given member pods. */
export function ringsFor(pods: Iterable<SimPod>): ExpectedRings {
  const all = [...pods];
  return {
    prefill: all
      .filter((p) => p.role === 'prefill')
      .map((p) => p.url)
      .sort(),
    decode: all
      .filter((p) => p.role === 'decode')
      .map((p) => p.url)
      .sort(),
  };
}

export function ringsMatch(state: ProxyStateView, expected: ExpectedRings): boolean {
  if (!state.rings) return false;
  const same = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && [...a].sort().every((x, i) => x === b[i]);
  return same(state.rings.prefill.members, expected.prefill) && same(state.rings.decode.members, expected.decode);
}

/** Polls every proxy until all of them route on `expected`; returns the ms it took. */
export async function waitForRings(
  cluster: LocalCluster,
  expected: ExpectedRings,
  options: { timeoutMs?: number; intervalMs?: number; description?: string } = {},
): Promise<number> {
  const started = performance.now();
  await waitUntil(
    async () => {
      const states = await Promise.all(cluster.proxies.map((p) => p.adminState()));
      return states.every((s) => ringsMatch(s, expected));
    },
    {
      timeoutMs: options.timeoutMs ?? 15_000,
      intervalMs: options.intervalMs ?? 5,
      description: options.description ?? 'every proxy on the expected rings',
    },
  );
  return performance.now() - started;
}

export async function completion(proxyUrl: string, key: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${proxyUrl}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-id': key },
    body: JSON.stringify({ model: MODEL, prompt: `hello from ${key}`, max_tokens: 3 }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: res.status, body: await res.text() };
}

export interface PodStats {
  name: string;
  requests: number;
  prefillRequests: number;
}

export async function podStats(cluster: LocalCluster): Promise<Map<string, PodStats>> {
  const r = await getJson<{ pods: PodStats[] }>(`${cluster.simControl}/pods`);
  return new Map(r.pods.map((p) => [p.name, p]));
}

/** Constant moderate load over every proxy (round robin) until stopped; counts every failure with its cause. */
export class LoadGenerator {
  ok = 0;
  readonly failures: string[] = [];
  #stopped = false;
  #workers: Promise<void>[] = [];

  constructor(cluster: LocalCluster, concurrency: number) {
    for (let w = 0; w < concurrency; w++) {
      this.#workers.push(
        (async () => {
          for (let i = 0; !this.#stopped; i++) {
            const proxy = cluster.proxies[(w + i) % cluster.proxies.length];
            if (!proxy) continue;
            try {
              const r = await completion(proxy.url, `load-${w}-${i % 50}`);
              if (r.status === 200) this.ok++;
              else this.failures.push(`${proxy.name}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
            } catch (err) {
              this.failures.push(`${proxy.name}: ${(err as Error).message}`);
            }
          }
        })(),
      );
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#workers);
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}
