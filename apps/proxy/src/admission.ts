// Admission control in front of the pods: at most --max-concurrent-requests requests in flight, an
// optional token bucket (--rate-limit-tokens-per-second, one token per request), and a bounded FIFO queue
// (--queue-size) where a request over the limits waits up to --queue-timeout-secs. A request that finds
// the queue full, or times out in it, is refused with 429 and Retry-After, so an overloaded router sheds
// early instead of slowing every stream down.
//
// vllm-router keeps one token bucket whose capacity is the concurrency limit and whose tokens both refill
// at the rate and come back when a request ends, so its in-flight count can exceed the limit once tokens
// have refilled; here the concurrency limit is exact and the rate is a separate bucket.
import { RouterError } from '@pdrouter/core';

export interface AdmissionConfig {
  readonly maxConcurrent: number;
  /** Requests allowed to wait; 0 refuses at once when over the limits. */
  readonly queueSize: number;
  readonly queueTimeoutMs: number;
  /** Requests per second (bucket of one second's worth); undefined: no rate limit. */
  readonly ratePerSecond?: number;
}

export interface AdmissionClock {
  nowMs(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realClock: AdmissionClock = {
  nowMs: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export type RejectReason = 'queue_full' | 'queue_timeout' | 'client_gone';

export interface AdmissionObserver {
  queueDepth(depth: number): void;
  waited(seconds: number): void;
  rejected(reason: RejectReason): void;
}

/** Ends a request's hold on its slot; calling it twice is harmless. */
export type Release = () => void;

interface Waiter {
  readonly enqueuedMs: number;
  resolve(release: Release): void;
  reject(err: RouterError): void;
  timer: unknown;
  settled: boolean;
}

const RETRY_AFTER_MIN_SECONDS = 1;

export class Admission {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  private tokens: number;
  private refilledMs: number;
  private readonly bucketSize: number;
  private rateTimer: unknown;
  private readonly config: AdmissionConfig;
  private readonly observer: AdmissionObserver;
  private readonly clock: AdmissionClock;

  constructor(config: AdmissionConfig, observer: AdmissionObserver, clock: AdmissionClock = realClock) {
    this.config = config;
    this.observer = observer;
    this.clock = clock;
    this.bucketSize = config.ratePerSecond === undefined ? 0 : Math.max(1, config.ratePerSecond);
    this.tokens = this.bucketSize;
    this.refilledMs = clock.nowMs();
  }

  get running(): number {
    return this.inFlight;
  }

  get queued(): number {
    return this.queue.length;
  }

  /**
   * A slot now, or after waiting in the queue; throws (or rejects with) a 429 RouterError when refused.
   * `onQueued` is called only when the request has to wait, with a function that gives its place up
   * (the client left), so the fast path allocates nothing.
   */
  admit(onQueued?: (cancel: () => void) => void): Release | Promise<Release> {
    if (this.queue.length === 0 && this.take()) return this.releaser();
    if (this.queue.length >= this.config.queueSize) {
      this.observer.rejected('queue_full');
      throw this.tooMany('the router is at its request limit and its queue is full');
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        enqueuedMs: this.clock.nowMs(),
        resolve,
        reject,
        timer: undefined,
        settled: false,
      };
      waiter.timer = this.clock.setTimer(() => this.drop(waiter, 'queue_timeout'), this.config.queueTimeoutMs);
      this.queue.push(waiter);
      onQueued?.(() => this.drop(waiter, 'client_gone'));
      this.observer.queueDepth(this.queue.length);
      this.scheduleRefill();
    });
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.drain();
    };
  }

  private refill(): void {
    if (this.config.ratePerSecond === undefined) return;
    const now = this.clock.nowMs();
    this.tokens = Math.min(this.bucketSize, this.tokens + ((now - this.refilledMs) / 1000) * this.config.ratePerSecond);
    this.refilledMs = now;
  }

  private take(): boolean {
    if (this.inFlight >= this.config.maxConcurrent) return false;
    if (this.config.ratePerSecond !== undefined) {
      this.refill();
      if (this.tokens < 1) return false;
      this.tokens -= 1;
    }
    this.inFlight++;
    return true;
  }

  /** Seconds until the bucket holds a token (0 without a rate limit). */
  private secondsToToken(): number {
    if (this.config.ratePerSecond === undefined) return 0;
    this.refill();
    return Math.max(0, (1 - this.tokens) / this.config.ratePerSecond);
  }

  private tooMany(message: string): RouterError {
    const retryAfter = Math.max(RETRY_AFTER_MIN_SECONDS, Math.ceil(this.secondsToToken()));
    return new RouterError('rate_limited', message, { retryAfterSeconds: retryAfter });
  }

  private drain(): void {
    while (this.queue.length > 0 && this.take()) {
      const waiter = this.queue.shift() as Waiter;
      waiter.settled = true;
      this.clock.clearTimer(waiter.timer);
      this.observer.waited((this.clock.nowMs() - waiter.enqueuedMs) / 1000);
      waiter.resolve(this.releaser());
    }
    this.observer.queueDepth(this.queue.length);
    this.scheduleRefill();
  }

  /** When only the rate holds the queue back, wake up when the next token is due. */
  private scheduleRefill(): void {
    if (this.rateTimer !== undefined || this.queue.length === 0 || this.config.ratePerSecond === undefined) return;
    if (this.inFlight >= this.config.maxConcurrent) return;
    const ms = Math.max(1, Math.ceil(this.secondsToToken() * 1000));
    this.rateTimer = this.clock.setTimer(() => {
      this.rateTimer = undefined;
      this.drain();
    }, ms);
  }

  private drop(waiter: Waiter, reason: RejectReason): void {
    if (waiter.settled) return;
    waiter.settled = true;
    this.clock.clearTimer(waiter.timer);
    const at = this.queue.indexOf(waiter);
    if (at >= 0) this.queue.splice(at, 1);
    this.observer.queueDepth(this.queue.length);
    this.observer.rejected(reason);
    waiter.reject(
      reason === 'client_gone'
        ? new RouterError('invalid_request', 'the client left while the request was queued', { status: 499 })
        : this.tooMany(`the request waited ${this.config.queueTimeoutMs / 1000}s in the router's queue`),
    );
  }
}
