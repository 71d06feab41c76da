// The one error vocabulary of pdrouter: a RouterError carries a stable code and an HTTP status, and
// every HTTP error body is OpenAI-shaped: {"error":{"message","type","param","code"}}.

export type ErrorCode =
  | 'invalid_json'
  | 'invalid_request'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'rate_limited'
  | 'no_members'
  | 'draining'
  | 'overloaded'
  | 'upstream_error'
  | 'upstream_timeout'
  | 'internal_error';

/** The HTTP status each code maps to unless a RouterError says otherwise. */
export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  invalid_json: 400,
  invalid_request: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  rate_limited: 429,
  no_members: 503,
  draining: 503,
  overloaded: 503,
  upstream_error: 502,
  upstream_timeout: 504,
  internal_error: 500,
});

/** OpenAI's error `type` for each code (clients such as the openai SDK branch on these). */
export const ERROR_TYPE: Readonly<Record<ErrorCode, string>> = Object.freeze({
  invalid_json: 'invalid_request_error',
  invalid_request: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  unauthorized: 'authentication_error',
  forbidden: 'permission_error',
  not_found: 'invalid_request_error',
  method_not_allowed: 'invalid_request_error',
  rate_limited: 'rate_limit_error',
  no_members: 'service_unavailable_error',
  draining: 'service_unavailable_error',
  overloaded: 'service_unavailable_error',
  upstream_error: 'upstream_error',
  upstream_timeout: 'timeout_error',
  internal_error: 'server_error',
});

export interface RouterErrorOptions {
  /** The request field at fault, e.g. "messages". */
  param?: string;
  /** Overrides the code's default status. */
  status?: number;
  /** Sent as Retry-After (seconds) with the answer. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class RouterError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param?: string;
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, options: RouterErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RouterError';
    this.code = code;
    this.status = options.status ?? ERROR_STATUS[code];
    if (options.param !== undefined) this.param = options.param;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | number | null };
}

export function openAIErrorBody(
  message: string,
  type: string,
  code?: string | number | null,
  param?: string | null,
): OpenAIErrorBody {
  return { error: { message, type, param: param ?? null, code: code ?? null } };
}

export function routerErrorBody(err: RouterError): OpenAIErrorBody {
  return openAIErrorBody(err.message, ERROR_TYPE[err.code], err.code, err.param ?? null);
}

/** Any thrown value as a RouterError: RouterErrors pass through, the rest become internal_error. */
export function toRouterError(err: unknown): RouterError {
  if (err instanceof RouterError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new RouterError('internal_error', message || 'internal error', { cause: err });
}
