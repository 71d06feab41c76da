// What went wrong on a leg, in the words the metrics and the error bodies use. undici's errors carry
// stable codes (UND_ERR_*), Node's socket errors errno codes.

export type LegFailureKind =
  | 'connect_refused'
  | 'connect_timeout'
  | 'first_byte_timeout'
  | 'idle_timeout'
  | 'connection_reset'
  | 'status_5xx'
  /** 408 or 429: the pod is too busy for the request now. */
  | 'status_overloaded'
  | 'bad_prefill_response'
  /** The client's stop conditions ended the prefill on its one token: no KV to hand over. */
  | 'prefill_stopped_early'
  | 'request_timeout'
  | 'other';

export interface LegFailure {
  readonly kind: LegFailureKind;
  /** A timeout (answers 504 when it is the last failure) rather than a failure (502). */
  readonly timeout: boolean;
  readonly message: string;
}

/** Why the request's own signal fired. */
export type AbortCause = 'client_closed' | 'request_timeout' | 'draining';

export class RequestAborted extends Error {
  override readonly name = 'RequestAborted';
  readonly abortCause: AbortCause;
  constructor(cause: AbortCause) {
    super(
      cause === 'client_closed'
        ? 'client closed the connection'
        : cause === 'request_timeout'
          ? 'request timed out'
          : 'proxy is shutting down',
    );
    this.abortCause = cause;
  }
}

/** The failure a stream reports when --request-timeout-secs ends it: not the pod's fault. */
export const REQUEST_TIMEOUT_FAILURE: LegFailure = Object.freeze({
  kind: 'request_timeout',
  timeout: true,
  message: 'the request exceeded --request-timeout-secs',
});

/** The failure a stream reports when the drain deadline ends it: the router's doing, not the pod's. */
export const SHUTDOWN_FAILURE: LegFailure = Object.freeze({
  kind: 'request_timeout',
  timeout: true,
  message: 'the router is shutting down and --drain-timeout-secs passed; retry the request',
});

export function classifyUpstreamError(err: unknown): LegFailure {
  const e = err as { code?: string; message?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code;
  const message = e?.message ?? String(err);
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { kind: 'connect_refused', timeout: false, message };
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return { kind: 'connect_timeout', timeout: true, message };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { kind: 'first_byte_timeout', timeout: true, message };
    case 'UND_ERR_BODY_TIMEOUT':
      return { kind: 'idle_timeout', timeout: true, message };
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return { kind: 'connection_reset', timeout: false, message };
    default:
      return { kind: 'other', timeout: false, message };
  }
}
