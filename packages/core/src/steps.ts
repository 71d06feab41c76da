// Work in steps: a generator that yields between parts of a long computation (a 10,000-member parse,
// bucketing 1.6M ring points) and returns its result. A caller on an event loop resumes it after letting
// other work run; everyone else runs it to the end at once.

/** The result of `steps`, run to the end without a pause. */
export function runToEnd<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** Work run between two turns of the event loop by runInSlices: short next to the stalls it avoids. */
export const SLICE_MS = 4;

export interface SliceOptions {
  /** Lets other work run (on Node: a setImmediate turn of the event loop). */
  pause: () => Promise<void>;
  /** How long a slice runs before it pauses; SLICE_MS unless given. */
  sliceMs?: number;
  /** The clock, in milliseconds; performance.now unless given. */
  now?: () => number;
}

/**
 * The result of `steps`, pausing only once a slice of its steps has run for `sliceMs`: fast work (a
 * one-pod change, warm code) runs in one go however many steps it has, slow work (a whole membership,
 * or code the JIT has not optimised yet) lets other work run every few milliseconds. A slice ends after
 * the step that crosses `sliceMs`, so steps must be short next to it.
 */
export async function runInSlices<T>(steps: Generator<void, T>, options: SliceOptions): Promise<T> {
  const now = options.now ?? (() => performance.now());
  const sliceMs = options.sliceMs ?? SLICE_MS;
  let sliceStart = now();
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    if (now() - sliceStart >= sliceMs) {
      await options.pause();
      sliceStart = now();
    }
  }
}
