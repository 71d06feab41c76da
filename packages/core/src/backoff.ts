// Exponential backoff with jitter, shared by every retry loop (Kubernetes watches, NATS watches, publishers).
// Jitter spreads a fleet of replicas that failed together, so they do not retry in lock-step.

export interface BackoffOptions {
  /** Delay before the first retry. */
  readonly initialMs: number;
  /** No delay exceeds this, jitter included. */
  readonly maxMs: number;
  /** Growth per consecutive failure (2 doubles). */
  readonly multiplier: number;
  /** Each delay is drawn uniformly from [base * (1 - jitterFactor), base * (1 + jitterFactor)]; 0 disables. */
  readonly jitterFactor: number;
  /** A uniform draw in [0, 1); injectable so tests can pin the jitter. Default Math.random. */
  readonly random?: () => number;
}

/** The delay before retry number `attempt` (1 for the first retry after the first failure). */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const { initialMs, maxMs, multiplier, jitterFactor } = options;
  const exponent = Math.min(Math.max(attempt - 1, 0), 64);
  const base = Math.min(maxMs, initialMs * multiplier ** exponent);
  if (jitterFactor <= 0) return Math.round(base);
  const draw = (options.random ?? Math.random)();
  const jittered = base * (1 - jitterFactor + 2 * jitterFactor * draw);
  return Math.round(Math.min(maxMs, Math.max(0, jittered)));
}

/** A running backoff: next() grows the delay on each consecutive failure, reset() after a success. */
export class Backoff {
  readonly #options: BackoffOptions;
  #attempt = 0;

  constructor(options: BackoffOptions) {
    if (!(options.initialMs >= 0) || !(options.maxMs >= options.initialMs) || !(options.multiplier >= 1)) {
      throw new RangeError('backoff: need 0 <= initialMs <= maxMs and multiplier >= 1');
    }
    if (!(options.jitterFactor >= 0 && options.jitterFactor <= 1)) {
      throw new RangeError('backoff: jitterFactor must be within [0, 1]');
    }
    this.#options = options;
  }

  /** Consecutive failures since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** Records one more failure and returns the delay to wait before retrying. */
  next(): number {
    this.#attempt++;
    return backoffDelayMs(this.#attempt, this.#options);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
