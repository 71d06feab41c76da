// Per-pod state the router keeps on its own: in-flight legs (for power_of_two and bounded load), the
// pod's circuit breaker (circuit-breaker.ts) fed with the verdicts of real traffic, and what its health
// probes say (health-checker.ts). A pod takes traffic when its probes pass and its circuit is closed, or
// half-open with no trial in flight. Taking a pod out only reorders the failover walk (it goes last);
// the ring itself never changes, so every replica keeps the same owners.
import { runToEnd } from '@pdrouter/core';
import { CIRCUIT_STATE_CODE, CircuitBreaker, type CircuitState, type Transition } from './circuit-breaker.ts';
import type { HealthConfig } from './config.ts';
import type { Logger } from './logger.ts';
import type { ProxyMetrics } from './metrics.ts';
import type { Verdict } from './outcome.ts';
import { PodCounters } from './pod-series.ts';

/** The clock the registry reads and sets its timers on (testkit's FakeClock has this shape). */
export interface RegistryClock {
  now(): number;
  setTimer(ms: number, fn: () => void): { cancel(): void };
}

export const systemClock: RegistryClock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

export interface PodState {
  readonly url: string;
  inFlight: number;
  readonly breaker: CircuitBreaker;
  /** What the active health probes say (vllm-router's thresholds); true until they say otherwise. */
  probeHealthy: boolean;
  probeFailures: number;
  probeSuccesses: number;
  /** What /metrics reports for the pod (pod-series.ts). */
  readonly counters: PodCounters;
  halfOpenTimer?: { cancel(): void };
}

export interface PodSnapshot {
  url: string;
  inFlight: number;
  consecutiveFailures: number;
  ejected: boolean;
  circuit: CircuitState;
  /** ISO time the open period ends, while open. */
  openUntil?: string;
  openPeriodMs: number;
  probeHealthy: boolean;
}

export class PodRegistry {
  private readonly pods = new Map<string, PodState>();
  private readonly config: HealthConfig;
  private readonly metrics: ProxyMetrics;
  private readonly logger: Logger;
  private readonly clock: RegistryClock;
  private readonly random: (() => number) | undefined;
  private members = new Set<string>();
  /** Pods with state that are not members (left while legs were in flight): dropped once idle. */
  private readonly departed = new Set<string>();
  /** Members that probes and circuit admit (pdrouter's active workers gauge). */
  private active = 0;
  private closed = false;

  constructor(options: {
    config: HealthConfig;
    metrics: ProxyMetrics;
    logger: Logger;
    clock?: RegistryClock;
    random?: () => number;
  }) {
    this.config = options.config;
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.random = options.random;
    this.metrics.reportPods(() => this.pods.values());
  }

  get(url: string): PodState {
    let pod = this.pods.get(url);
    if (!pod) {
      pod = {
        url,
        inFlight: 0,
        breaker: new CircuitBreaker(this.config.breaker, this.clock.now, this.random),
        probeHealthy: true,
        probeFailures: 0,
        probeSuccesses: 0,
        counters: new PodCounters(),
      };
      this.pods.set(url, pod);
      // A leg to a pod the snapshot has just dropped: its state goes once idle, as a leaver's does.
      if (!this.members.has(url)) this.departed.add(url);
    }
    return pod;
  }

  /** The pods of the current snapshot. State of pods that left goes once they are idle. */
  setMembers(urls: Iterable<string>): void {
    const { joined, left } = this.membershipChange([...urls]);
    this.changeMembers(joined, left);
  }

  /** The change from the current members to `urls`: what setMembers(urls) would pass to changeMembers. */
  membershipChange(urls: readonly string[]): { joined: string[]; left: string[] } {
    return runToEnd(this.membershipChangeInSteps(urls));
  }

  /** membershipChange in steps: yields after every `step` pods compared. */
  *membershipChangeInSteps(
    urls: readonly string[],
    step = 1_000,
  ): Generator<void, { joined: string[]; left: string[] }> {
    const next = new Set<string>();
    const joined: string[] = [];
    for (let i = 0; i < urls.length; i++) {
      const url = urls[i] as string;
      if (next.has(url)) continue;
      next.add(url);
      if (!this.members.has(url)) joined.push(url);
      if (i % step === step - 1) yield;
    }
    const left: string[] = [];
    let i = 0;
    for (const url of this.members) {
      if (!next.has(url)) left.push(url);
      if (++i % step === 0) yield;
    }
    return { joined, left };
  }

  /**
   * The snapshot's change, when the caller knows it: `joined` became members, `left` are members no
   * more. Costs what the change costs, not what the other members do; the same state as setMembers.
   */
  changeMembers(joined: Iterable<string>, left: Iterable<string>): void {
    let active = this.active;
    for (const url of left) {
      if (!this.members.delete(url)) continue;
      const pod = this.pods.get(url);
      if (pod === undefined) continue;
      if (this.isActive(pod)) active--;
      this.departed.add(url);
    }
    for (const url of joined) {
      if (this.members.has(url)) continue;
      this.members.add(url);
      this.departed.delete(url);
      if (this.isActive(this.get(url))) active++;
    }
    // Pods that left (now or before) go once idle.
    for (const url of this.departed) {
      const pod = this.pods.get(url);
      if (pod === undefined) {
        this.departed.delete(url);
        continue;
      }
      pod.halfOpenTimer?.cancel();
      if (pod.inFlight === 0) {
        this.pods.delete(url);
        this.departed.delete(url);
        this.metrics.removePod(url);
      }
    }
    this.setActive(active);
  }

  /** The current members (what the health checker probes). */
  memberUrls(): string[] {
    return [...this.members];
  }

  /** Out of the walk's first choices: probes failing, circuit open, or half-open with its trial in flight. */
  isEjected(url: string): boolean {
    const pod = this.pods.get(url);
    return pod !== undefined && !this.admits(pod);
  }

  /** Out altogether (probes failing or circuit open), as opposed to a half-open pod busy with its trial. */
  isOut(url: string): boolean {
    const pod = this.pods.get(url);
    return pod !== undefined && this.out(pod);
  }

  inFlight(url: string): number {
    return this.pods.get(url)?.inFlight ?? 0;
  }

  /** Pods with legs in flight and how many (what this replica shares with the others). */
  *inFlightCounts(): Generator<[string, number]> {
    for (const [url, pod] of this.pods) if (pod.inFlight > 0) yield [url, pod.inFlight];
  }

  acquire(pod: PodState): void {
    pod.inFlight++;
    pod.counters.running++;
  }

  release(pod: PodState): void {
    pod.inFlight--;
    pod.counters.running--;
  }

  /** Feeds the pod's circuit with an outcome's verdict: only pod and network faults count against it. */
  record(pod: PodState, v: Verdict, reason: string): void {
    if (v.health === 'neutral') return;
    const success = v.health === 'success';
    if (success) pod.counters.cbSuccesses++;
    else pod.counters.cbFailures++;
    const t = success ? pod.breaker.success() : pod.breaker.failure(v.trip);
    if (t) this.applyTransition(pod, t, reason);
  }

  /** One active health probe's result (health-checker.ts), with vllm-router's consecutive thresholds. */
  probed(url: string, healthy: boolean): void {
    const pod = this.pods.get(url);
    if (!pod || this.closed || !this.members.has(url)) return;
    const h = this.config;
    if (healthy) {
      pod.probeFailures = 0;
      pod.probeSuccesses++;
      if (!pod.probeHealthy && pod.probeSuccesses >= h.probeSuccessThreshold) {
        pod.probeHealthy = true;
        pod.probeSuccesses = 0;
        this.logger.info('pod passes its health probes again', { pod: url });
        if (!h.breaker.enabled) {
          pod.counters.readmissions++;
          this.updateHealth(pod);
          return;
        }
        // Probes alone never put a pod back: at most a trial of real traffic.
        const t = pod.breaker.state === 'closed' ? pod.breaker.halfOpen('probes_recovered') : undefined;
        if (t) this.applyTransition(pod, t, 'probes_recovered');
        else this.tryHalfOpen(pod);
        this.updateHealth(pod);
      } else if (pod.probeHealthy) this.tryHalfOpen(pod);
      return;
    }
    pod.probeSuccesses = 0;
    pod.probeFailures++;
    if (pod.probeHealthy && pod.probeFailures >= h.probeFailureThreshold) {
      pod.probeHealthy = false;
      pod.probeFailures = 0;
      this.logger.warn('pod fails its health probes', { pod: url, failures: h.probeFailureThreshold });
      const t = h.breaker.enabled ? pod.breaker.forceOpen('health_probes') : undefined;
      if (t) this.applyTransition(pod, t, 'health_probes');
      else {
        pod.counters.ejections++;
        this.updateHealth(pod);
      }
    }
  }

  /** For /admin/state. */
  ejectedPods(): string[] {
    return [...this.pods.values()].filter((p) => this.out(p)).map((p) => p.url);
  }

  snapshot(): PodSnapshot[] {
    return [...this.pods.values()].map((p) => {
      const openUntil = p.breaker.openUntil;
      return {
        url: p.url,
        inFlight: p.inFlight,
        consecutiveFailures: p.breaker.failures,
        ejected: this.out(p),
        circuit: p.breaker.state,
        ...(openUntil > 0 ? { openUntil: new Date(openUntil).toISOString() } : {}),
        openPeriodMs: p.breaker.openedForMs,
        probeHealthy: p.probeHealthy,
      };
    });
  }

  close(): void {
    this.closed = true;
    for (const pod of this.pods.values()) pod.halfOpenTimer?.cancel();
  }

  private out(pod: PodState): boolean {
    if (pod.breaker.state === 'open') this.tryHalfOpen(pod);
    return !pod.probeHealthy || pod.breaker.state === 'open';
  }

  private admits(pod: PodState): boolean {
    if (!pod.probeHealthy) return false;
    if (pod.breaker.state === 'open') this.tryHalfOpen(pod);
    const state = pod.breaker.state;
    if (state === 'closed') return true;
    // One trial at a time: a pod that may still be broken costs at most one request per open period.
    return state === 'half_open' && pod.inFlight === 0;
  }

  /** An open circuit whose period has passed goes half-open, if the pod passes its probes. */
  private tryHalfOpen(pod: PodState): void {
    if (!pod.probeHealthy || !pod.breaker.openElapsed()) return;
    const t = pod.breaker.halfOpen('open_elapsed');
    if (t) this.applyTransition(pod, t, 'open_elapsed');
  }

  private applyTransition(pod: PodState, t: Transition, reason: string): void {
    pod.counters.cbState = CIRCUIT_STATE_CODE[t.to];
    this.metrics.cbTransitions.labels(pod.url, t.from, t.to).inc();
    pod.halfOpenTimer?.cancel();
    pod.halfOpenTimer = undefined;
    if (t.to === 'open') {
      pod.counters.ejections++;
      this.logger.warn('circuit open: pod out of the walk', {
        pod: pod.url,
        from: t.from,
        reason,
        openForMs: pod.breaker.openedForMs,
        opens: pod.breaker.opens,
      });
      if (!this.closed) {
        // So the state (and its gauge) moves on without traffic; admits() also checks on the way.
        pod.halfOpenTimer = this.clock.setTimer(pod.breaker.openedForMs, () => {
          pod.halfOpenTimer = undefined;
          if (!this.closed && this.pods.get(pod.url) === pod) this.tryHalfOpen(pod);
        });
      }
    } else if (t.to === 'half_open') {
      this.logger.info('circuit half-open: the next request is a trial', { pod: pod.url, reason: t.reason });
    } else {
      pod.counters.readmissions++;
      this.logger.info('circuit closed: pod re-admitted after successful trials', { pod: pod.url });
    }
    this.updateHealth(pod);
  }

  private updateHealth(pod: PodState): void {
    pod.counters.health = pod.probeHealthy && pod.breaker.state !== 'open' ? 1 : 0;
    this.updateActive();
  }

  private isActive(pod: PodState): boolean {
    return pod.probeHealthy && pod.breaker.state !== 'open';
  }

  private setActive(active: number): void {
    this.active = active;
    this.metrics.activeWorkers.set(active);
  }

  /** Counts the active members again (after a pod's state changed). */
  private updateActive(): void {
    let active = 0;
    for (const url of this.members) {
      const pod = this.pods.get(url);
      if (pod !== undefined && this.isActive(pod)) active++;
    }
    this.setActive(active);
  }
}
