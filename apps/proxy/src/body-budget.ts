// The memory budget for request bodies across all requests in flight (--max-buffered-body-bytes). A body
// is held from its first byte until its request ends (the decode leg and a failover re-send it), so the
// budget counts bytes from the moment they are read (or declared by Content-Length) to the request's end.
// Over the budget a request gets 503 with Retry-After instead of more memory.
import { RouterError } from '@pdrouter/core';
import type { Counter, Gauge } from 'prom-client';

/** What a client is told to wait before retrying a request refused for lack of body budget. */
export const BODY_BUDGET_RETRY_AFTER_SECONDS = 1;

export class BodyBudget {
  private held = 0;
  readonly capBytes: number;
  private readonly gauge: Gauge<string> | undefined;
  private readonly rejections: Counter<string> | undefined;

  constructor(capBytes: number, metrics?: { bufferedBodyBytes: Gauge<string>; bodyBudgetRejections: Counter<string> }) {
    this.capBytes = capBytes;
    this.gauge = metrics?.bufferedBodyBytes;
    this.rejections = metrics?.bodyBudgetRejections;
  }

  get heldBytes(): number {
    return this.held;
  }

  /** A reservation for one request, released (once) when the request ends. */
  reservation(): BodyReservation {
    let mine = 0;
    return {
      add: (bytes: number) => {
        if (this.held + bytes > this.capBytes) {
          this.rejections?.inc();
          throw new RouterError(
            'overloaded',
            `the router is holding its limit of ${this.capBytes} bytes of request bodies (--max-buffered-body-bytes); retry shortly`,
            { retryAfterSeconds: BODY_BUDGET_RETRY_AFTER_SECONDS },
          );
        }
        this.held += bytes;
        mine += bytes;
        this.gauge?.set(this.held);
      },
      release: () => {
        this.held -= mine;
        mine = 0;
        this.gauge?.set(this.held);
      },
    };
  }
}

export interface BodyReservation {
  /** Counts `bytes` more against the budget; throws RouterError 'overloaded' when they do not fit. */
  add(bytes: number): void;
  release(): void;
}
