// Per-request state shared by the legs and the relay, and the answer a walk ends with.
import type { PrefixKey } from '@pdrouter/core';
import type { RouteMetrics } from './metrics.ts';
import type { PodState } from './pods.ts';
import type { GenerationRoute } from './request-body.ts';
import type { RequestTrace } from './tracing.ts';
import type { UpstreamResponse } from './upstream.ts';
import type { AbortCause, LegFailure } from './upstream-errors.ts';

export type LegRole = 'prefill' | 'decode' | 'plain';

/** A leg that got an answer the client should see (2xx stream, or the pod's 4xx). */
export interface Answer {
  res: UpstreamResponse;
  pod: PodState;
  role: LegRole;
}

/** Per-request state shared by the legs. */
export interface Exchange {
  readonly route: GenerationRoute;
  /** The pod's path when it is not `route` (forwarded routes). */
  readonly upstreamPath?: string;
  readonly rm: RouteMetrics;
  readonly startedMs: number;
  /** Sent on both legs (unique to this request). */
  readonly requestId: string;
  /** The client's id (or requestId), echoed as X-Request-Id. */
  readonly clientRequestId: string;
  /** The string the request was hashed by (rendezvous_hash scores pods with it). */
  readonly hashKey?: string;
  /** The routing text's block hashes, when a scoring policy or selective P/D needs them. */
  readonly prefix?: PrefixKey;
  /** Estimated prompt tokens (selective P/D). */
  readonly promptTokens?: number;
  /** The request's span (--enable-trace). */
  readonly trace?: RequestTrace;
  /** The client asked for a stream (`stream: true`). */
  readonly streaming: boolean;
  /** Headers of both legs (client's end-to-end headers, request id, auth). */
  readonly headers: Record<string, string>;
  /** Fires when the client leaves or the total timeout passes; aborts both legs. */
  readonly signal: AbortSignal;
  abortCause: AbortCause | undefined;
  abort(cause: AbortCause): void;
  /** Every pod failure of this request, in order (for the final error and the logs). */
  readonly failures: LegFailure[];
  /**
   * Time spent waiting on pods before the first chunk (legs sent until headers, prefill bodies, decode
   * headers until first chunk): TTFT minus this is the router's own share of it.
   */
  upstreamWaitMs: number;
  /** When the last leg's response headers arrived. */
  headersAtMs: number;
  /** The prefill pod that produced the kv params (for the request log). */
  prefillPod?: string;
}
