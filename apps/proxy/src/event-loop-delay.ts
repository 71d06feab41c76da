// How late the proxy's event loop runs: a timer due every SAMPLE_INTERVAL_MS records how much later than due
// it fired. A synchronous stretch of work (a ring build, a large JSON parse) delays every request and probe by
// as much, so this is the stall a request can meet. Cumulative, unlike Node's default
// nodejs_eventloop_lag_* gauges, which cover only the time since the previous scrape.
import type { Histogram } from 'prom-client';

export const SAMPLE_INTERVAL_MS = 10;

export class EventLoopDelaySampler {
  readonly #timer: NodeJS.Timeout;

  constructor(histogram: Pick<Histogram, 'observe'>) {
    let due = performance.now() + SAMPLE_INTERVAL_MS;
    this.#timer = setInterval(() => {
      const now = performance.now();
      histogram.observe(Math.max(0, now - due) / 1000);
      due = now + SAMPLE_INTERVAL_MS;
    }, SAMPLE_INTERVAL_MS);
    // Sampling never keeps the process alive.
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
