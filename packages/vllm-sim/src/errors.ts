import { type OpenAIErrorBody, openAIErrorBody } from '@pdrouter/core';

/**
 * vLLM's error body: `{"error": {"message", "type", "param", "code"}}` with the HTTP status as `code`
 * (vLLM's ErrorResponse / ErrorInfo), built with the project's one OpenAI error shape.
 */

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

export function errorBody(status: number, message: string, param: string | null = null): OpenAIErrorBody {
  return openAIErrorBody(message, ERROR_TYPES[status] ?? 'InternalServerError', status, param);
}

export function badRequest(message: string, param: string | null = null): SimHttpError {
  return new SimHttpError(400, message, param);
}
