// One pod's circuit breaker (docs/design.md §2.6). Pure: the clock and the jitter are injected, nothing
// here does I/O or sets a timer.
//
//   closed --(cb-failure-threshold pod/network faults in a row, all within cb-window-duration-secs,
//             or one first-byte stall, or failing health probes)--> open
//   open   --(its open period has passed and the pod passes health probes)--> half_open
//   half_open: one trial request at a time; cb-success-threshold successes --> closed,
//              any failure --> open again, for a longer period (core Backoff: cb-timeout-duration-secs
//              doubling with ±20% jitter, up to --cb-max-timeout-duration-secs)
//
// The open period only ever resets when the circuit closes after real traffic succeeded: a pod whose
// /health answers while its inference fails keeps getting longer periods.
import { Backoff } from '@pdrouter/core';

export type CircuitState = 'closed' | 'open' | 'half_open';

/** vllm-router's gauge values (vllm_router_cb_state). */
export const CIRCUIT_STATE_CODE: Readonly<Record<CircuitState, number>> = Object.freeze({
  closed: 0,
  open: 1,
  half_open: 2,
});

export interface BreakerSettings {
  /** --disable-circuit-breaker turns it off: the circuit never opens on traffic. */
  readonly enabled: boolean;
  readonly failureThreshold: number;
  readonly successThreshold: number;
  /** First open period. */
  readonly openMs: number;
  /** Longest open period, jitter included. */
  readonly maxOpenMs: number;
  /** Failures further apart than this do not add up. */
  readonly windowMs: number;
}

/** Growth of the open period per re-open, and its jitter. */
export const OPEN_BACKOFF_MULTIPLIER = 2;
export const OPEN_BACKOFF_JITTER = 0.2;

export interface Transition {
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: string;
}

export class CircuitBreaker {
  readonly #settings: BreakerSettings;
  readonly #now: () => number;
  readonly #backoff: Backoff;
  #state: CircuitState = 'closed';
  /** Times of the failures of the current run (only the latest `failureThreshold` are kept). */
  #failures: number[] = [];
  #successes = 0;
  #openUntil = 0;
  #openedFor = 0;

  constructor(settings: BreakerSettings, now: () => number, random?: () => number) {
    this.#settings = settings;
    this.#now = now;
    this.#backoff = new Backoff({
      initialMs: settings.openMs,
      maxMs: Math.max(settings.openMs, settings.maxOpenMs),
      multiplier: OPEN_BACKOFF_MULTIPLIER,
      jitterFactor: OPEN_BACKOFF_JITTER,
      ...(random ? { random } : {}),
    });
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** Consecutive failures counted towards opening (within the window). */
  get failures(): number {
    return this.#failures.length;
  }

  /** When the current open period ends (ms, the injected clock); 0 when not open. */
  get openUntil(): number {
    return this.#state === 'open' ? this.#openUntil : 0;
  }

  /** Length of the latest open period (ms). */
  get openedForMs(): number {
    return this.#openedFor;
  }

  /** Times the circuit opened since it last closed. */
  get opens(): number {
    return this.#backoff.attempts;
  }

  /** The open period is over: the circuit may move to half-open (when the pod passes its probes). */
  openElapsed(): boolean {
    return this.#state === 'open' && this.#now() >= this.#openUntil;
  }

  /** An outcome that counts for the pod. Returns the transition it caused, if any. */
  success(): Transition | undefined {
    this.#failures = [];
    if (this.#state !== 'half_open') return undefined;
    this.#successes++;
    if (this.#successes < this.#settings.successThreshold) return undefined;
    this.#backoff.reset();
    return this.#move('closed', 'trial_succeeded');
  }

  /** An outcome that counts against the pod; `trip` opens at once (a stall before headers). */
  failure(trip = false): Transition | undefined {
    if (!this.#settings.enabled) return undefined;
    const now = this.#now();
    if (this.#state === 'open') return undefined;
    if (this.#state === 'half_open') return this.#open('trial_failed');
    const cutoff = now - this.#settings.windowMs;
    this.#failures = this.#failures.filter((t) => t > cutoff);
    this.#failures.push(now);
    if (this.#failures.length > this.#settings.failureThreshold) this.#failures.shift();
    if (trip) return this.#open('stalled');
    if (this.#failures.length >= this.#settings.failureThreshold) return this.#open('failures');
    return undefined;
  }

  /** Failing health probes take the pod out whatever its traffic says. */
  forceOpen(reason: string): Transition | undefined {
    if (this.#state === 'open') return undefined;
    return this.#open(reason);
  }

  /** The open period has passed (or probes recovered a closed pod): a trial of real traffic decides. */
  halfOpen(reason: string): Transition | undefined {
    if (this.#state === 'half_open') return undefined;
    if (this.#state === 'open' && !this.openElapsed()) return undefined;
    return this.#move('half_open', reason);
  }

  #open(reason: string): Transition {
    this.#openedFor = this.#backoff.next();
    this.#openUntil = this.#now() + this.#openedFor;
    return this.#move('open', reason);
  }

  #move(to: CircuitState, reason: string): Transition {
    const from = this.#state;
    this.#state = to;
    this.#successes = 0;
    this.#failures = [];
    return { from, to, reason };
  }
}
