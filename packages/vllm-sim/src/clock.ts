/**
 * The time source of the simulator. The engine never reads wall time or calls setTimeout directly, so
 * unit tests drive it with a FakeClock and assert on simulated milliseconds, never on wall time.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds on a monotonic scale (only differences are meaningful). */
  now(): number;
  /** Runs `fn` once after `delayMs` (<= 0: as soon as possible, after pending I/O). */
  schedule(delayMs: number, fn: () => void): TimerHandle;
}

/** Wall-clock implementation: performance.now() and unref'ed timers (a timer never keeps a process alive). */
export const realClock: Clock = Object.freeze({
  now: (): number => performance.now(),
  schedule(delayMs: number, fn: () => void): TimerHandle {
    if (delayMs <= 0) {
      // setImmediate runs after the I/O poll phase: zero-delay mode streams as fast as sockets drain
      // without starving the sockets themselves. Not unref'ed: an unref'ed immediate lets the poll
      // phase block, and the step loop would crawl at the pace of unrelated events.
      const immediate = setImmediate(fn);
      return { cancel: () => clearImmediate(immediate) };
    }
    const timeout = setTimeout(fn, delayMs);
    timeout.unref();
    return { cancel: () => clearTimeout(timeout) };
  },
});

interface FakeTimer {
  readonly at: number;
  readonly order: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** A manually advanced clock for tests: timers fire only inside advance(), in due-time order. */
export class FakeClock implements Clock {
  private current: number;
  private order = 0;
  private timers: FakeTimer[] = [];

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  schedule(delayMs: number, fn: () => void): TimerHandle {
    const timer: FakeTimer = { at: this.current + Math.max(0, delayMs), order: this.order++, fn, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Number of timers still due to fire. */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due (including ones scheduled meanwhile). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let next: FakeTimer | undefined;
      for (const t of this.timers) {
        if (t.at <= target && (next === undefined || t.at < next.at || (t.at === next.at && t.order < next.order))) {
          next = t;
        }
      }
      if (next === undefined) break;
      this.current = Math.max(this.current, next.at);
      next.cancelled = true;
      next.fn();
    }
    this.current = target;
  }
}
