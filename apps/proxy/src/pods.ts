// Per-pod state the router keeps on its own: in-flight legs (for power_of_two and bounded load) and
// passive health. A pod is ejected after N consecutive failures (connection refused/reset, timeout, 5xx)
// and probed on its health endpoint with exponential backoff until it answers; ejection only reorders
// the failover walk, the ring itself never changes.
import type { HealthConfig } from './config.ts';
import type { Logger } from './logger.ts';
import type { PodMetrics, ProxyMetrics } from './metrics.ts';
import type { Verdict } from './outcome.ts';

export interface PodState {
  readonly url: string;
  inFlight: number;
  consecutiveFailures: number;
  ejected: boolean;
  readonly metrics: PodMetrics;
}

/** Probes the pod; resolves true when it answered healthy. */
export type HealthProbe = (url: string) => Promise<boolean>;

export class PodRegistry {
  private readonly pods = new Map<string, PodState>();
  private readonly probes = new Map<string, { timer: NodeJS.Timeout; delayMs: number }>();
  private readonly config: HealthConfig;
  private readonly metrics: ProxyMetrics;
  private readonly logger: Logger;
  private readonly probe: HealthProbe;
  private members = new Set<string>();
  private closed = false;

  constructor(options: { config: HealthConfig; metrics: ProxyMetrics; logger: Logger; probe: HealthProbe }) {
    this.config = options.config;
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.probe = options.probe;
  }

  get(url: string): PodState {
    let pod = this.pods.get(url);
    if (!pod) {
      pod = { url, inFlight: 0, consecutiveFailures: 0, ejected: false, metrics: this.metrics.pod(url) };
      pod.metrics.health.set(1);
      this.pods.set(url, pod);
    }
    return pod;
  }

  /** The pods of the current snapshot. Pods that left stop being probed; their state goes once idle. */
  setMembers(urls: Iterable<string>): void {
    this.members = new Set(urls);
    for (const url of this.members) this.get(url);
    for (const [url, pod] of this.pods) {
      if (this.members.has(url)) continue;
      this.stopProbe(url);
      if (pod.inFlight === 0) {
        this.pods.delete(url);
        this.metrics.removePod(url);
      }
    }
    this.updateActive();
  }

  isEjected(url: string): boolean {
    return this.pods.get(url)?.ejected ?? false;
  }

  inFlight(url: string): number {
    return this.pods.get(url)?.inFlight ?? 0;
  }

  acquire(pod: PodState): void {
    pod.inFlight++;
    pod.metrics.running.inc();
  }

  release(pod: PodState): void {
    pod.inFlight--;
    pod.metrics.running.dec();
  }

  /** Feeds passive health with an outcome's verdict: only pod and network faults count against it. */
  record(pod: PodState, v: Verdict, reason: string): void {
    if (v.health === 'success') this.recordSuccess(pod);
    else if (v.health === 'failure') this.recordFailure(pod, reason);
  }

  recordSuccess(pod: PodState): void {
    pod.consecutiveFailures = 0;
  }

  recordFailure(pod: PodState, reason: string): void {
    pod.consecutiveFailures++;
    if (!this.config.enabled || pod.ejected || pod.consecutiveFailures < this.config.ejectAfterFailures) return;
    if (!this.members.has(pod.url)) return;
    pod.ejected = true;
    pod.metrics.health.set(0);
    pod.metrics.ejections.inc();
    this.updateActive();
    this.logger.warn('pod ejected', { pod: pod.url, consecutiveFailures: pod.consecutiveFailures, reason });
    this.scheduleProbe(pod, this.config.probeBaseMs);
  }

  /** For /admin/state. */
  ejectedPods(): string[] {
    return [...this.pods.values()].filter((p) => p.ejected).map((p) => p.url);
  }

  snapshot(): { url: string; inFlight: number; consecutiveFailures: number; ejected: boolean }[] {
    return [...this.pods.values()].map((p) => ({
      url: p.url,
      inFlight: p.inFlight,
      consecutiveFailures: p.consecutiveFailures,
      ejected: p.ejected,
    }));
  }

  close(): void {
    this.closed = true;
    for (const url of [...this.probes.keys()]) this.stopProbe(url);
  }

  private updateActive(): void {
    let active = 0;
    for (const url of this.members) if (!this.isEjected(url)) active++;
    this.metrics.activeWorkers.set(active);
  }

  private scheduleProbe(pod: PodState, delayMs: number): void {
    this.stopProbe(pod.url);
    if (this.closed) return;
    const timer = setTimeout(() => void this.runProbe(pod, delayMs), delayMs);
    timer.unref();
    this.probes.set(pod.url, { timer, delayMs });
  }

  private stopProbe(url: string): void {
    const p = this.probes.get(url);
    if (p) clearTimeout(p.timer);
    this.probes.delete(url);
  }

  private async runProbe(pod: PodState, delayMs: number): Promise<void> {
    let healthy = false;
    try {
      healthy = await this.probe(pod.url);
    } catch {
      healthy = false;
    }
    if (this.closed || !this.members.has(pod.url) || this.pods.get(pod.url) !== pod) return;
    if (healthy) {
      this.probes.delete(pod.url);
      pod.ejected = false;
      pod.consecutiveFailures = 0;
      pod.metrics.health.set(1);
      pod.metrics.readmissions.inc();
      this.updateActive();
      this.logger.info('pod re-admitted', { pod: pod.url });
      return;
    }
    this.scheduleProbe(pod, Math.min(delayMs * 2, this.config.probeMaxMs));
  }
}
