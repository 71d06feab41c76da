import { describe, expect, test } from 'vitest';
import { ERROR_STATUS, openAIErrorBody, RouterError, routerErrorBody, toRouterError } from './errors.ts';

describe('errors', () => {
  test('statuses default from the code', () => {
    const expected = [400, 400, 413, 415, 401, 403, 404, 405, 429, 503, 503, 503, 502, 504, 500];
    expect(Object.values(ERROR_STATUS)).toEqual(expected);
    expect(new RouterError('no_members', 'no prefill members').status).toBe(503);
    expect(new RouterError('upstream_error', 'x', { status: 503 }).status).toBe(503);
  });

  test('OpenAI-shaped bodies', () => {
    expect(openAIErrorBody('bad', 'invalid_request_error')).toEqual({
      error: { message: 'bad', type: 'invalid_request_error', param: null, code: null },
    });
    const err = new RouterError('invalid_request', 'messages must be an array', { param: 'messages' });
    expect(routerErrorBody(err)).toEqual({
      error: {
        message: 'messages must be an array',
        type: 'invalid_request_error',
        param: 'messages',
        code: 'invalid_request',
      },
    });
    expect(JSON.parse(JSON.stringify(routerErrorBody(new RouterError('upstream_timeout', 't'))))).toEqual({
      error: { message: 't', type: 'timeout_error', param: null, code: 'upstream_timeout' },
    });
  });

  test('toRouterError keeps RouterErrors and wraps the rest', () => {
    const e = new RouterError('draining', 'shutting down');
    expect(toRouterError(e)).toBe(e);
    const wrapped = toRouterError(new TypeError('oops'));
    expect(wrapped.code).toBe('internal_error');
    expect(wrapped.message).toBe('oops');
    expect(wrapped.status).toBe(500);
    expect(toRouterError('text').message).toBe('text');
    expect(wrapped).toBeInstanceOf(Error);
  });
});
