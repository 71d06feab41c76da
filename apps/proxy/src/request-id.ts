// The request id. vllm-router takes the client's id from the first of --request-id-headers it finds
// (x-request-id, x-correlation-id, x-trace-id, request-id by default) and echoes it as X-Request-Id. The
// legs need an id unique to this request, the same on both (vLLM matches the prefill's KV blocks to the
// decode by it): the client's id with a fresh suffix, so two requests that reuse a client id never collide.
import { newRequestId } from '@pdrouter/core';

/** vllm-router's default --request-id-headers. */
export const DEFAULT_REQUEST_ID_HEADERS: readonly string[] = Object.freeze([
  'x-request-id',
  'x-correlation-id',
  'x-trace-id',
  'request-id',
]);
/** Longest client id taken; longer (or non-printable) values are ignored rather than forwarded. */
export const CLIENT_REQUEST_ID_MAX_CHARS = 256;
const PRINTABLE = /^[\x21-\x7e]+$/;

export interface RequestIds {
  /** Echoed to the client as X-Request-Id. */
  readonly client: string;
  /** Sent on both legs as X-Request-Id. */
  readonly legs: string;
}

export function requestIds(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  names: readonly string[],
): RequestIds {
  for (const name of names) {
    const raw = headers[name];
    const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    if (value && value.length <= CLIENT_REQUEST_ID_MAX_CHARS && PRINTABLE.test(value)) {
      return { client: value, legs: `${value}-${newRequestId()}` };
    }
  }
  const id = newRequestId();
  return { client: id, legs: id };
}
