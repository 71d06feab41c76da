import { type Clock, realClock, type TimerHandle } from './clock.ts';

/**
 * Collapses a burst of calls into one: the first call opens a window of `windowMs`, calls inside it join,
 * and `fn` runs once when it closes. The window is not extended by later calls, so a steady stream of pod
 * changes still produces a snapshot at least every `windowMs`.
 */
export class Debouncer {
  readonly #fn: () => void;
  readonly #windowMs: number;
  readonly #clock: Clock;
  #timer: TimerHandle | undefined;

  constructor(windowMs: number, fn: () => void, clock: Clock = realClock) {
    this.#windowMs = windowMs;
    this.#fn = fn;
    this.#clock = clock;
  }

  trigger(): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.#clock.setTimer(this.#windowMs, () => {
      this.#timer = undefined;
      this.#fn();
    });
  }

  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }
}
