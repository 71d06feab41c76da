// Active health checking (vllm-router's health checker): every --health-check-interval-secs each member
// pod is probed on --health-check-endpoint and the result goes to the registry, which applies the
// failure/success thresholds. Probes can take a pod out; bringing it back takes a trial of real
// traffic as well (pods.ts). A round over a large fleet spreads its probe starts over half the interval.
// Also the start-up wait of --worker-startup-timeout-secs.
import type { StartupSettings } from './config.ts';
import type { Logger } from './logger.ts';
import type { ProxyMetrics } from './metrics.ts';
import type { PodRegistry, RegistryClock } from './pods.ts';

/** Probes one member (by its ring key); resolves true when it answered 2xx in time. Never rejects. */
export type HealthProbe = (key: string) => Promise<boolean>;

/** Probes in flight at once in one round, so a fleet of thousands does not open thousands of sockets. */
export const PROBE_CONCURRENCY = 32;
/** Probes a round starts at once; past them, starts are spread (see ROUND_SPREAD_SHARE). */
export const PROBE_BURST = 256;
/**
 * A round of more than PROBE_BURST members spreads its probe starts over this share of the interval:
 * each pod is still probed once per interval, but 10,000 pods do not open 10,000 connections within
 * seconds (a burst of allocations whose garbage collection stalls the event loop for tens of ms).
 */
export const ROUND_SPREAD_SHARE = 0.5;

async function probeAll(
  keys: readonly string[],
  probe: HealthProbe,
  each: (key: string, ok: boolean) => void,
  /** Spreads a large round's starts (the periodic rounds); the start-up wait checks at once. */
  pace?: { clock: RegistryClock; spreadMs: number },
) {
  const start = pace?.clock.now() ?? 0;
  const gapMs = pace !== undefined && keys.length > PROBE_BURST ? pace.spreadMs / keys.length : 0;
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const i = next++;
      const key = keys[i] as string;
      if (pace !== undefined && gapMs > 0 && i >= PROBE_BURST) {
        const dueMs = start + (i - PROBE_BURST) * gapMs - pace.clock.now();
        if (dueMs >= 1) await new Promise<void>((r) => pace.clock.setTimer(dueMs, r));
      }
      let ok = false;
      try {
        ok = await probe(key);
      } catch {
        ok = false;
      }
      each(key, ok);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, keys.length) }, worker));
}

export class HealthChecker {
  private readonly registry: PodRegistry;
  private readonly probe: HealthProbe;
  private readonly intervalMs: number;
  private readonly clock: RegistryClock;
  private readonly metrics: ProxyMetrics;
  private readonly spreadShare: number;
  private timer: { cancel(): void } | undefined;
  private running = false;
  private closed = false;

  constructor(options: {
    registry: PodRegistry;
    probe: HealthProbe;
    intervalMs: number;
    clock: RegistryClock;
    metrics: ProxyMetrics;
    /** Share of the interval a large round spreads its probe starts over (default ROUND_SPREAD_SHARE; 0: none). */
    spreadShare?: number;
  }) {
    this.spreadShare = options.spreadShare ?? ROUND_SPREAD_SHARE;
    this.registry = options.registry;
    this.probe = options.probe;
    this.intervalMs = options.intervalMs;
    this.clock = options.clock;
    this.metrics = options.metrics;
  }

  start(): void {
    if (!this.closed && this.timer === undefined) this.schedule();
  }

  /** One round over every member; a round still running when the next is due is not doubled. */
  async round(): Promise<void> {
    if (this.running || this.closed) return;
    this.running = true;
    try {
      await probeAll(
        this.registry.memberUrls(),
        this.probe,
        (key, ok) => {
          this.metrics.healthProbes.labels(ok ? 'ok' : 'failed').inc();
          this.registry.probed(key, ok);
        },
        { clock: this.clock, spreadMs: this.intervalMs * this.spreadShare },
      );
    } finally {
      this.running = false;
    }
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer = this.clock.setTimer(this.intervalMs, () => {
      if (this.closed) return;
      void this.round().finally(() => {
        if (!this.closed) this.schedule();
      });
    });
  }
}

export type StartupResult = { ready: true } | { ready: false; waiting: readonly string[] };

/**
 * vllm-router's start-up wait: the configured pods are checked every --worker-startup-check-interval
 * until they answer their health endpoint; past --worker-startup-timeout-secs it gives up (the process
 * then exits, as vllm-router's does). Unlike vllm-router, which is satisfied by any one pod, in P/D mode
 * it waits for one prefill and one decode pod: with either role missing no request can be served.
 */
export async function waitForPods(options: {
  roles: readonly (readonly string[])[];
  probe: HealthProbe;
  settings: StartupSettings;
  clock: RegistryClock;
  metrics: ProxyMetrics;
  logger: Logger;
  /** Stops waiting (the proxy is closing): resolves not ready. */
  signal: AbortSignal;
  /** Called once the first check of every pod is done, with whether they all answered. */
  onFirstRound?: (ready: boolean) => void;
}): Promise<StartupResult> {
  const { roles, probe, settings, clock, metrics, logger, signal } = options;
  let first = options.onFirstRound;
  const answered = new Set<string>();
  const started = clock.now();
  const waiting = () => roles.filter((keys) => !keys.some((k) => answered.has(k))).flat();
  for (;;) {
    const pending = waiting();
    if (pending.length === 0) {
      first?.(true);
      return { ready: true };
    }
    await probeAll(pending, probe, (key, ok) => {
      metrics.healthProbes.labels(ok ? 'ok' : 'failed').inc();
      if (ok) answered.add(key);
    });
    const left = waiting();
    first?.(left.length === 0);
    first = undefined;
    if (left.length === 0) return { ready: true };
    if (signal.aborted) return { ready: false, waiting: left };
    const elapsed = clock.now() - started;
    if (elapsed >= settings.timeoutMs) return { ready: false, waiting: left };
    logger.info('waiting for pods to answer their health endpoint', {
      waiting: left,
      elapsedSecs: Math.round(elapsed / 1000),
      timeoutSecs: settings.timeoutMs / 1000,
    });
    await new Promise<void>((resolve) => {
      const t = clock.setTimer(Math.min(settings.checkIntervalMs, settings.timeoutMs - elapsed), done);
      function done() {
        t.cancel();
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
    if (signal.aborted) return { ready: false, waiting: waiting() };
  }
}
