// The decode leg's body: the client's bytes with the prefill's kv_transfer_params spliced in, and the
// request field to blame when a prefill stopped before producing them.
import { buildDecodeBody } from '@pdrouter/core';
import type { Exchange } from './exchange.ts';
import { bodyJson } from './request-body.ts';

const KV_FIELD_PREFIX = Buffer.from(',"kv_transfer_params":');
const CLOSING_BRACE = 0x7d;

/**
 * The decode leg's body (docs/design.md §2.5): the client's bytes as received with `kv_transfer_params` added
 * before the closing brace. Re-serialising the parsed body would alter what the client sent (integers
 * beyond 2^53 such as seeds, 1e400) and cost a JSON.stringify of the whole prompt per request. A body
 * that already carries kv_transfer_params is rebuilt from the parsed object, where the field is replaced.
 */
export function decodeBodyOf(
  route: Exchange['route'],
  raw: Buffer,
  body: Record<string, unknown>,
  kv: Record<string, unknown>,
): Buffer | string {
  let end = raw.length - 1;
  // JSON whitespace after the object: space, tab, LF, CR.
  while (end >= 0 && (raw[end] === 0x20 || raw[end] === 0x09 || raw[end] === 0x0a || raw[end] === 0x0d)) end--;
  if (Object.hasOwn(body, 'kv_transfer_params') || raw[end] !== CLOSING_BRACE || Object.keys(body).length === 0) {
    return bodyJson(buildDecodeBody(route, body, kv));
  }
  return Buffer.concat([raw.subarray(0, end), KV_FIELD_PREFIX, Buffer.from(`${JSON.stringify(kv)}}`)]);
}

/** The request field that most likely ended a prefill early, for the error's `param`. */
export function stopParamOf(body: Record<string, unknown>): string | undefined {
  for (const field of ['stop_token_ids', 'stop']) {
    const v = body[field];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) return field;
  }
  return undefined;
}
