// vllm-router's hash keys, for each of its routers that can front a P/D fleet. Each router hands its
// consistent_hash policy a different (text, headers) pair; the policy then takes the first non-empty
// session header, else the first field its text scan finds, else `request:{text}` / `request_hash:`.
//
// - `pd` (`--pd-disaggregation`, routers/http/pd_router.rs until that router was removed): the text
//   is the typed request's routing text and no headers are passed.
// - `regular` (plain mode, routers/http/router.rs): the same text, with the request's headers.
// - `vllm-pd` (`--vllm-pd-disaggregation`, routers/http/vllm_pd_router.rs): the headers, and as text
//   the request serialised back to JSON (serde_json with sorted object keys, no whitespace).
//
// One divergence, on purpose: vllm-router's routing text of a chat request is its
// session_params.session_id, and "" without one, so every chat request without a session id gets
// the key `request:` and lands on one pod. Such requests are keyed here by their conversation start
// (system messages and the first user message), as affinity mode does.
import { canonicalJson } from './canonical-json.ts';
import { fbiHash } from './fbi-hash.ts';
import { conversationText } from './routing-text.ts';
import { scanTextKey } from './text-fields.ts';
import { u64ToHex } from './u64.ts';

export type VllmRouterKind = 'pd' | 'regular' | 'vllm-pd';
export const VLLM_ROUTER_KINDS: readonly VllmRouterKind[] = Object.freeze(['pd', 'regular', 'vllm-pd']);

/** Reads a request header by lower-case name; undefined when absent. */
export type HeaderLookup = (lowerCaseName: string) => string | undefined;

/** vllm-router's header order (policies/hash_key.rs SESSION_HEADER_NAMES). */
export const VLLM_ROUTER_KEY_HEADERS: readonly string[] = Object.freeze([
  'x-session-id',
  'x-user-id',
  'x-tenant-id',
  'x-correlation-id',
  'x-request-id',
  'x-trace-id',
]);
/** vllm-router keys texts up to this many UTF-8 bytes verbatim (`request:`), longer ones by hash. */
export const VLLM_ROUTER_TEXT_KEY_MAX_BYTES = 100;
export const EMPTY_TEXT_KEY = 'request:';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The first non-empty header of `names` as `header:{name}:{value}`. */
export function headerKey(headers: HeaderLookup, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = headers(name);
    if (typeof value === 'string' && value.length > 0) return `header:${name}:${value}`;
  }
  return undefined;
}

function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** vllm-router's fallback: `request:{text}` up to 100 bytes, else `request_hash:{fbiHash hex}`. */
export function textKey(text: string): string {
  // Strings longer than 100 code units are longer than 100 bytes; only short ones need counting.
  if (text.length > VLLM_ROUTER_TEXT_KEY_MAX_BYTES || utf8Length(text) > VLLM_ROUTER_TEXT_KEY_MAX_BYTES) {
    return `request_hash:${u64ToHex(fbiHash(text))}`;
  }
  return `request:${text}`;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const isTokenId = (v: unknown): boolean =>
  Number.isInteger(v) && (v as number) >= INT32_MIN && (v as number) <= INT32_MAX;

/**
 * A completions prompt as vllm-router spells it for routing (protocols/spec.rs PromptInput, whose
 * shapes are tried in this order): a string as is; a list of token-id lists as
 * `token_ids_batch:{lists}:{total ids}` (an empty list included); a list of strings joined with one
 * space; a token-id list as `token_ids:{count}`. Any other shape, which vllm-router refuses, gives "".
 */
export function completionPromptText(prompt: unknown): string {
  if (typeof prompt === 'string') return prompt;
  if (!Array.isArray(prompt)) return '';
  if (prompt.every((item) => Array.isArray(item) && item.every(isTokenId))) {
    let total = 0;
    for (const ids of prompt as unknown[][]) total += ids.length;
    return `token_ids_batch:${prompt.length}:${total}`;
  }
  if (prompt.every((item) => typeof item === 'string')) return prompt.join(' ');
  if (prompt.every(isTokenId)) return `token_ids:${prompt.length}`;
  return '';
}

/** A chat request's session_params.session_id when it is a string that is not blank (vllm-router's chat text). */
export function chatSessionText(body: Json): string | undefined {
  const params = body.session_params;
  if (!isObject(params)) return undefined;
  const id = params.session_id;
  return typeof id === 'string' && id.trim().length > 0 ? id : undefined;
}

/** The text of a /v1/responses request: its `input` string, or the first item's text (vllm-router's P/D routers do not serve it). */
function responsesText(body: Json): string {
  if (typeof body.input === 'string') return body.input;
  if (Array.isArray(body.input)) {
    const first = body.input[0];
    if (typeof first === 'string') return first;
    if (isObject(first) && typeof first.content === 'string') return first.content;
    if (isObject(first) && Array.isArray(first.content)) {
      const texts = first.content.filter(
        (part): part is { text: string } => isObject(part) && typeof part.text === 'string',
      );
      return texts.map((part) => part.text).join(' ');
    }
  }
  return '';
}

function keyOfText(text: string): string {
  return scanTextKey(text) ?? textKey(text);
}

/** The key of the request's own text (pd and regular routers), chat divergence included. */
function typedTextKey(body: Json | undefined): string {
  if (body === undefined) return EMPTY_TEXT_KEY;
  if (Array.isArray(body.messages)) {
    const session = chatSessionText(body);
    if (session !== undefined) return keyOfText(session);
    const conversation = conversationText(body.messages);
    return conversation === undefined ? EMPTY_TEXT_KEY : `conversation:${u64ToHex(fbiHash(conversation))}`;
  }
  if ('prompt' in body) return keyOfText(completionPromptText(body.prompt));
  if ('query' in body && typeof body.query === 'string') return keyOfText(body.query);
  if ('input' in body) return keyOfText(responsesText(body));
  return EMPTY_TEXT_KEY;
}

function serialisedKey(body: Json | undefined): string {
  if (body === undefined) return EMPTY_TEXT_KEY;
  let text: string;
  try {
    text = canonicalJson(body);
  } catch {
    return EMPTY_TEXT_KEY;
  }
  return keyOfText(text);
}

/** vllm-router's key for `kind`; `body` is the parsed request object (undefined when it is not one). */
export function vllmRouterKey(kind: VllmRouterKind, headers: HeaderLookup, body: Json | undefined): string {
  if (kind === 'pd') return typedTextKey(body);
  const fromHeaders = headerKey(headers, VLLM_ROUTER_KEY_HEADERS);
  if (fromHeaders !== undefined) return fromHeaders;
  return kind === 'regular' ? typedTextKey(body) : serialisedKey(body);
}
