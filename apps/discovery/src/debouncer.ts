/**
 * Collapses a burst of calls into one: the first call opens a window of `windowMs`, calls inside it join,
 * and `fn` runs once when it closes. The window is not extended by later calls, so a steady stream of pod
 * changes still produces a snapshot at least every `windowMs`.
 */
export class Debouncer {
  readonly #fn: () => void;
  readonly #windowMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(windowMs: number, fn: () => void) {
    this.#windowMs = windowMs;
    this.#fn = fn;
  }

  trigger(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fn();
    }, this.#windowMs);
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
