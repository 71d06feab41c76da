/**
 * vLLM's error body: `{"error": {"message", "type", "param", "code"}}` with the HTTP status as `code`
 * (vLLM's ErrorResponse / ErrorInfo; the same OpenAI shape as @pdrouter/core's openAIErrorBody).
 */

export interface SimErrorBody {
  error: { message: string; type: string; param: string | null; code: number };
}

const ERROR_TYPES: Readonly<Record<number, string>> = Object.freeze({
  400: 'BadRequestError',
  404: 'NotFoundError',
  413: 'BadRequestError',
  429: 'TooManyRequestsError',
  500: 'InternalServerError',
  503: 'ServiceUnavailableError',
});

/** A request the pod refuses, with the status and body vLLM would answer. */
export class SimHttpError extends Error {
  readonly status: number;
  readonly param: string | null;

  constructor(status: number, message: string, param: string | null = null) {
    super(message);
    this.name = 'SimHttpError';
    this.status = status;
    this.param = param;
  }
}

export function errorBody(status: number, message: string, param: string | null = null): SimErrorBody {
  return { error: { message, type: ERROR_TYPES[status] ?? 'InternalServerError', param, code: status } };
}

export function badRequest(message: string, param: string | null = null): SimHttpError {
  return new SimHttpError(400, message, param);
}
