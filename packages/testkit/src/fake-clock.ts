// A clock whose time moves only when a test says so. It has the shape of the clocks the apps inject
// (now, sleep, setTimer), so leases, debounce windows and backoffs of seconds run in milliseconds.

interface PendingTimer {
  readonly at: number;
  readonly order: number;
  readonly fn: () => void;
  readonly isSleep: boolean;
}

export class FakeClock {
  #now: number;
  #order = 0;
  readonly #timers = new Set<PendingTimer>();

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs;
  }

  readonly now = (): number => this.#now;

  readonly setTimer = (ms: number, fn: () => void): { cancel(): void } => {
    const timer = this.#add(ms, fn, false);
    return { cancel: () => this.#timers.delete(timer) };
  };

  readonly sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const timer = this.#add(ms, () => done(), true);
      const done = (): void => {
        this.#timers.delete(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
    });

  /** Callers currently inside sleep(): a loop that sleeps between rounds is idle when it is counted here. */
  get sleepers(): number {
    let n = 0;
    for (const t of this.#timers) if (t.isSleep) n++;
    return n;
  }

  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order, each at its own time. */
  advance(ms: number): void {
    const until = this.#now + ms;
    for (let next = this.#earliest(); next !== undefined && next.at <= until; next = this.#earliest()) {
      this.#fire(next);
    }
    this.#now = until;
  }

  /** Jumps to the earliest timer and fires it (and any due at the same instant); false when none is pending. */
  advanceToNext(): boolean {
    const next = this.#earliest();
    if (next === undefined) return false;
    this.advance(Math.max(0, next.at - this.#now));
    return true;
  }

  #add(ms: number, fn: () => void, isSleep: boolean): PendingTimer {
    const timer = { at: this.#now + Math.max(0, ms), order: this.#order++, fn, isSleep };
    this.#timers.add(timer);
    return timer;
  }

  #earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const t of this.#timers) {
      if (best === undefined || t.at < best.at || (t.at === best.at && t.order < best.order)) best = t;
    }
    return best;
  }

  #fire(timer: PendingTimer): void {
    this.#timers.delete(timer);
    this.#now = Math.max(this.#now, timer.at);
    timer.fn();
  }
}
