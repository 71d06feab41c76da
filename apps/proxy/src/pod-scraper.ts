// What the pods say about themselves (docs/design.md §3.4): one loop per pod reads its /metrics every
// --pod-metrics-interval-ms for vLLM's queue and KV-cache gauges (core parsePodGauges), with a deadline
// of --pod-metrics-timeout-ms and at most one read in flight per pod (the next is due an interval after
// the last one started, never before the last one ended). Gauges older than --pod-metrics-stale-ms are
// not returned: the scoring policies then count the pod by its in-flight legs alone. A pod that leaves
// the snapshot has its loop stopped and its read aborted.
import { type PodSignals, parsePodGauges, runToEnd } from '@pdrouter/core';
import type { ProxyMetrics } from './metrics.ts';
import type { RegistryClock } from './pods.ts';
import type { Upstreams } from './upstream.ts';

export interface PodScraperSettings {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly staleMs: number;
}

export type ScrapeErrorReason = 'timeout' | 'network' | 'http' | 'too_large' | 'parse';

export class ScrapeError extends Error {
  readonly reason: ScrapeErrorReason;
  constructor(reason: ScrapeErrorReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Reads one pod's /metrics text; rejects with a ScrapeError. */
export type MetricsFetch = (url: string, signal: AbortSignal) => Promise<string>;

/** A vLLM /metrics is tens of KiB; a body past this is not read further. */
export const MAX_METRICS_BYTES = 4 * 1024 * 1024;

/** GET /metrics through the pods' connection pools, with the probes' Authorization (--api-key) when set. */
export function upstreamMetricsFetch(
  upstreams: Upstreams,
  authorization: string | undefined,
  timeoutMs: number,
): MetricsFetch {
  return async (url, signal) => {
    let res: Awaited<ReturnType<Upstreams['request']>>;
    try {
      res = await upstreams.request(url, {
        method: 'GET',
        path: '/metrics',
        headers: authorization !== undefined ? { authorization } : {},
        signal,
        headersTimeoutMs: timeoutMs,
      });
    } catch (err) {
      throw failure(err, signal);
    }
    if (res.statusCode < 200 || res.statusCode > 299) {
      await res.body.dump().catch(() => {});
      throw new ScrapeError('http', `GET /metrics answered ${res.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > MAX_METRICS_BYTES) {
          res.body.destroy();
          throw new ScrapeError('too_large', `/metrics is larger than ${MAX_METRICS_BYTES} bytes`);
        }
        chunks.push(chunk);
      }
    } catch (err) {
      throw err instanceof ScrapeError ? err : failure(err, signal);
    }
    return Buffer.concat(chunks).toString('utf8');
  };
}

function failure(err: unknown, signal: AbortSignal): ScrapeError {
  const message = err instanceof Error ? err.message : String(err);
  const timedOut =
    (signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError') ||
    (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT' ||
    (err as { code?: string }).code === 'UND_ERR_BODY_TIMEOUT';
  return new ScrapeError(timedOut ? 'timeout' : 'network', message);
}

interface PodLoop {
  readonly url: string;
  readonly stop: AbortController;
  timer: { cancel(): void } | undefined;
  inFlight: boolean;
  /** Last good gauges and when their read started. */
  last?: { signals: PodSignals; atMs: number };
  lastError?: { reason: ScrapeErrorReason; message: string; atMs: number };
}

export interface PodSignalsView {
  readonly url: string;
  readonly signals?: PodSignals;
  readonly ageMs?: number;
  readonly fresh: boolean;
  readonly lastError?: { readonly reason: ScrapeErrorReason; readonly message: string; readonly ageMs: number };
}

export class PodScraper {
  private readonly settings: PodScraperSettings;
  private readonly fetchText: MetricsFetch;
  private readonly clock: RegistryClock;
  private readonly metrics: ProxyMetrics;
  private readonly random: () => number;
  /** Keyed by pod URL: data-parallel ranks of one pod share one read. */
  private readonly loops = new Map<string, PodLoop>();
  /** Member key (url or url@rank) -> pod URL. */
  private readonly urlOfKey = new Map<string, string>();
  /** Pod URL -> how many member keys share it. */
  private readonly keysOfUrl = new Map<string, number>();
  private closed = false;

  constructor(options: {
    settings: PodScraperSettings;
    fetch: MetricsFetch;
    clock: RegistryClock;
    metrics: ProxyMetrics;
    /** Spreads the first reads over one interval (default Math.random). */
    random?: () => number;
  }) {
    this.settings = options.settings;
    this.fetchText = options.fetch;
    this.clock = options.clock;
    this.metrics = options.metrics;
    this.random = options.random ?? Math.random;
    this.metrics.reportStaleSignals(() => this.staleCount());
  }

  /** The pods of the current snapshot, as member key -> URL: new pods start a loop, departed ones stop. */
  setMembers(members: Iterable<readonly [key: string, url: string]>): void {
    if (this.closed) return;
    const { joined, left } = this.membershipChange(members);
    this.changeMembers(joined, left);
  }

  /** The change from the current members to `members`: what setMembers would pass to changeMembers. */
  membershipChange(members: Iterable<readonly [key: string, url: string]>): {
    joined: (readonly [string, string])[];
    left: string[];
  } {
    return runToEnd(this.membershipChangeInSteps(members));
  }

  /** membershipChange in steps: yields after every `step` members compared. */
  *membershipChangeInSteps(
    members: Iterable<readonly [key: string, url: string]>,
    step = 1_000,
  ): Generator<void, { joined: (readonly [string, string])[]; left: string[] }> {
    const next = new Map<string, string>();
    let i = 0;
    for (const [key, url] of members) {
      next.set(key, url);
      if (++i % step === 0) yield;
    }
    const left: string[] = [];
    for (const [key, url] of this.urlOfKey) {
      if (next.get(key) !== url) left.push(key);
      if (++i % step === 0) yield;
    }
    const joined: (readonly [string, string])[] = [];
    for (const entry of next) {
      if (this.urlOfKey.get(entry[0]) !== entry[1]) joined.push(entry);
      if (++i % step === 0) yield;
    }
    return { joined, left };
  }

  /**
   * The snapshot's change, when the caller knows it: member keys that joined (with their URL) and keys
   * that left. Costs what the change costs; the same loops as setMembers with the whole membership.
   */
  changeMembers(joined: Iterable<readonly [key: string, url: string]>, left: Iterable<string>): void {
    if (this.closed) return;
    const dropped = new Set<string>();
    for (const key of left) {
      const url = this.urlOfKey.get(key);
      if (url === undefined) continue;
      this.urlOfKey.delete(key);
      if (this.release(url)) dropped.add(url);
    }
    for (const [key, url] of joined) {
      const before = this.urlOfKey.get(key);
      if (before === url) continue;
      if (before !== undefined && this.release(before)) dropped.add(before);
      this.urlOfKey.set(key, url);
      this.keysOfUrl.set(url, (this.keysOfUrl.get(url) ?? 0) + 1);
      // A URL that left and came back in the same change keeps its loop (and its last reading).
      if (dropped.delete(url)) continue;
      if (this.loops.has(url)) continue;
      const loop: PodLoop = { url, stop: new AbortController(), timer: undefined, inFlight: false };
      this.loops.set(url, loop);
      this.schedule(loop, Math.floor(this.random() * this.settings.intervalMs));
    }
    for (const url of dropped) {
      const loop = this.loops.get(url);
      if (loop === undefined) continue;
      loop.timer?.cancel();
      loop.stop.abort();
      this.loops.delete(url);
    }
  }

  /** One key of `url` gone; true when it was the URL's last. */
  private release(url: string): boolean {
    const n = (this.keysOfUrl.get(url) ?? 1) - 1;
    if (n > 0) {
      this.keysOfUrl.set(url, n);
      return false;
    }
    this.keysOfUrl.delete(url);
    return true;
  }

  /** The pod's gauges when read within the staleness limit, else undefined. */
  signals(key: string): PodSignals | undefined {
    const url = this.urlOfKey.get(key) ?? key;
    const last = this.loops.get(url)?.last;
    if (last === undefined || this.clock.now() - last.atMs > this.settings.staleMs) return undefined;
    return last.signals;
  }

  /** One read of the pod now (the loops call it; tests may too). Never rejects. */
  async scrape(url: string): Promise<void> {
    const loop = this.loops.get(url);
    if (loop === undefined || loop.inFlight || this.closed) return;
    loop.inFlight = true;
    const startedMs = this.clock.now();
    const t0 = performance.now();
    const signal = AbortSignal.any([loop.stop.signal, AbortSignal.timeout(this.settings.timeoutMs)]);
    try {
      const text = await this.fetchText(url, signal);
      const r = parsePodGauges(text);
      if (!r.ok) throw new ScrapeError('parse', r.error);
      loop.last = { signals: r.signals, atMs: startedMs };
      delete loop.lastError;
    } catch (err) {
      if (!loop.stop.signal.aborted) {
        const e = err instanceof ScrapeError ? err : new ScrapeError('network', String(err));
        loop.lastError = { reason: e.reason, message: e.message, atMs: this.clock.now() };
        this.metrics.podScrapeErrors.labels(e.reason).inc();
      }
    } finally {
      loop.inFlight = false;
      if (!loop.stop.signal.aborted) this.metrics.podScrapeDuration.observe((performance.now() - t0) / 1000);
    }
  }

  /** Member pods without fresh gauges (pdrouter_pod_signals_stale). */
  staleCount(): number {
    const now = this.clock.now();
    let n = 0;
    for (const loop of this.loops.values())
      if (loop.last === undefined || now - loop.last.atMs > this.settings.staleMs) n++;
    return n;
  }

  /** For /admin/state. */
  views(): PodSignalsView[] {
    const now = this.clock.now();
    return [...this.loops.values()].map((l) => ({
      url: l.url,
      ...(l.last ? { signals: l.last.signals, ageMs: now - l.last.atMs } : {}),
      fresh: l.last !== undefined && now - l.last.atMs <= this.settings.staleMs,
      ...(l.lastError
        ? { lastError: { reason: l.lastError.reason, message: l.lastError.message, ageMs: now - l.lastError.atMs } }
        : {}),
    }));
  }

  close(): void {
    this.closed = true;
    for (const loop of this.loops.values()) {
      loop.timer?.cancel();
      loop.stop.abort();
    }
    this.loops.clear();
  }

  private schedule(loop: PodLoop, delayMs: number): void {
    loop.timer = this.clock.setTimer(delayMs, () => {
      loop.timer = undefined;
      if (loop.stop.signal.aborted) return;
      const startedMs = this.clock.now();
      void this.scrape(loop.url).then(() => {
        if (loop.stop.signal.aborted || this.closed) return;
        const elapsed = this.clock.now() - startedMs;
        this.schedule(loop, Math.max(0, this.settings.intervalMs - elapsed));
      });
    });
  }
}
