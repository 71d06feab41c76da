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
