// How often and how patiently a leg is retried (vllm-router's --retry-* flags): at most --retry-max-retries
// attempts, each on the next pod of the ring walk, with core's Backoff delay between two attempts.
// Retries happen only before a pod's response headers were accepted: once bytes may have reached the
// client, a failure ends the request (the relay's SSE error event), never a second attempt.
import { backoffDelayMs } from '@pdrouter/core';
import type { RetrySettings } from './config.ts';
import type { Exchange, LegRole } from './exchange.ts';
import type { ProxyMetrics } from './metrics.ts';
import { RequestAborted } from './upstream-errors.ts';

export class RetryPolicy {
  private readonly settings: RetrySettings;
  private readonly metrics: ProxyMetrics;
  private readonly random: (() => number) | undefined;

  constructor(settings: RetrySettings, metrics: ProxyMetrics, random?: () => number) {
    this.settings = settings;
    this.metrics = metrics;
    this.random = random;
  }

  get maxAttempts(): number {
    return this.settings.maxAttempts;
  }

  /** The walk cut to the attempts allowed. */
  limit(order: string[]): string[] {
    const max = this.settings.maxAttempts;
    return order.length > max ? order.slice(0, max) : order;
  }

  /** The delay before retry number `retry` (1 for the second attempt). */
  delayMs(retry: number): number {
    return backoffDelayMs(retry, { ...this.settings.backoff, ...(this.random ? { random: this.random } : {}) });
  }

  /**
   * Counts the retry and waits its delay; the request's own abort (client gone, total timeout) ends the
   * wait at once with RequestAborted.
   */
  async beforeRetry(ex: Exchange, role: LegRole, retry: number): Promise<void> {
    this.metrics.failovers.labels(role).inc();
    ex.rm.retries.inc();
    const ms = this.delayMs(retry);
    this.metrics.retryBackoff.labels(String(retry)).observe(ms / 1000);
    if (ms > 0) await abortableDelay(ms, ex.signal);
    if (ex.abortCause) throw new RequestAborted(ex.abortCause);
  }

  /** Every allowed attempt failed. */
  exhausted(ex: Exchange): void {
    this.metrics.retriesExhausted.labels(ex.route).inc();
  }
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
