// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction
// An independent transcription of vllm-router's hash-key computation (policies/hash_key.rs, the
// routing texts of protocols/spec.rs, and the (text, headers) each router passes), written from the
// Rust source for tests only. It works on arrays of code points, as Rust's `char_indices` does, and
// shares no code with src/: the generator and the vector test compare the two.
import { refFbiHash, refHex } from './bigint-reference.ts';

export type RefRouter = 'pd' | 'regular' | 'vllm-pd';

const SESSION_HEADERS = ['x-session-id', 'x-user-id', 'x-tenant-id', 'x-correlation-id', 'x-request-id', 'x-trace-id'];
const WHITE_SPACE = /^\p{White_Space}$/u;
const UNQUOTED_STOP = new Set([...',', ...' ', ...'}', ...']', ...'\n', ...'\r', ...'\t']);

const chars = (s: string): string[] => Array.from(s);
const isWs = (c: string): boolean => WHITE_SPACE.test(c);

/** str::find over code points: index of the first occurrence of needle in hay at or after 0, or -1. */
function find(hay: string[], needle: string[]): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The index just past `:` when only whitespace separates it from `from`, else -1. */
function colonFrom(text: string[], from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === ':') return i + 1;
    if (!isWs(text[i]!)) return -1;
  }
  return -1;
}

function fieldValue(text: string[], field: string): string | undefined {
  for (const pattern of [`"${field}"`, `'${field}'`, field]) {
    const p = chars(pattern);
    const at = find(text, p);
    if (at === -1) continue;
    const afterColon = colonFrom(text, at + p.length);
    if (afterColon === -1) continue;
    let i = afterColon;
    while (i < text.length && isWs(text[i]!)) i++;
    const rest = text.slice(i);
    const quote = rest[0];
    if (quote === '"' || quote === "'") {
      const close = rest.indexOf(quote, 1);
      if (close !== -1) return rest.slice(1, close).join('');
      continue;
    }
    let end = 0;
    while (end < rest.length && !UNQUOTED_STOP.has(rest[end]!)) end++;
    if (end > 0) return rest.slice(0, end).join('');
  }
  return undefined;
}

function nestedValue(text: string[], parent: string, child: string): string | undefined {
  let start = -1;
  for (const pattern of [`"${parent}"`, `'${parent}'`]) {
    const p = chars(pattern);
    const at = find(text, p);
    if (at === -1) continue;
    start = colonFrom(text, at + p.length);
    if (start !== -1) break;
  }
  if (start === -1) return undefined;
  const open = text.indexOf('{', start);
  if (open === -1) return undefined;
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    if (text[i] === '}') {
      depth--;
      if (depth === 0) return fieldValue(text.slice(open, i + 1), child);
    }
  }
  return undefined;
}

/** hash_key.rs extract_hash_key. */
export function refExtractHashKey(text: string | undefined, headers: Record<string, string> | undefined): string {
  if (headers !== undefined) {
    for (const name of SESSION_HEADERS) {
      const v = headers[name];
      if (v !== undefined && v !== '') return `header:${name}:${v}`;
    }
  }
  const t = text ?? '';
  if (t !== '') {
    const cs = chars(t);
    const nested = nestedValue(cs, 'session_params', 'session_id');
    if (nested !== undefined) return `session:${nested}`;
    const user = fieldValue(cs, 'user');
    if (user !== undefined) return `user:${user}`;
    const sid = fieldValue(cs, 'session_id');
    if (sid !== undefined) return `session:${sid}`;
    const uid = fieldValue(cs, 'user_id');
    if (uid !== undefined) return `user:${uid}`;
  }
  return new TextEncoder().encode(t).length > 100 ? `request_hash:${refHex(refFbiHash(t))}` : `request:${t}`;
}

const isI32 = (v: unknown): boolean =>
  typeof v === 'number' && Number.isInteger(v) && v >= -2147483648 && v <= 2147483647;

/** PromptInput::extract_text_for_routing; undefined when serde would refuse the prompt. */
function refPromptText(prompt: unknown): string | undefined {
  if (typeof prompt === 'string') return prompt;
  if (!Array.isArray(prompt)) return undefined;
  if (prompt.every((x) => Array.isArray(x) && x.every(isI32))) {
    return `token_ids_batch:${prompt.length}:${prompt.reduce((n: number, x: unknown[]) => n + x.length, 0)}`;
  }
  if (prompt.every((x) => typeof x === 'string')) return prompt.join(' ');
  if (prompt.every(isI32)) return `token_ids:${prompt.length}`;
  return undefined;
}

/** serde_json::to_string of a serde_json::Value (BTreeMap keys: code point order; compact). */
function refSerialise(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(refSerialise).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v).sort((a, b) => {
      const x = chars(a).map((c) => c.codePointAt(0)!);
      const y = chars(b).map((c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    });
    return `{${keys.map((k) => `${JSON.stringify(k)}:${refSerialise((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The key vllm-router computes for a /v1/completions body (and, for the documented chat case, a chat
 * body with a session id) under `router`. `headers` are lower-case names.
 */
export function refVllmRouterKey(
  router: RefRouter,
  headers: Record<string, string>,
  body: Record<string, unknown>,
): string {
  if (router === 'vllm-pd') return refExtractHashKey(refSerialise(body), headers);
  let text: string | undefined;
  if ('messages' in body) {
    const params = body.session_params as Record<string, unknown> | undefined;
    const id = params?.session_id;
    text = typeof id === 'string' && id.trim() !== '' ? id : '';
  } else {
    text = refPromptText(body.prompt) ?? '';
  }
  // PDRouter's consistent_hash gets `select_worker(workers, text)`: no headers.
  return refExtractHashKey(text, router === 'pd' ? undefined : headers);
}

/** vllm-router's ConsistentHashPolicy ring: 160 vnodes `{url}:{i}` by fbi_hash, first >= key hash, wrapping. */
export function refRingOwner(urls: readonly string[], key: string): string {
  const ring = new Map<bigint, string>();
  for (const url of urls) for (let i = 0; i < 160; i++) ring.set(refFbiHash(`${url}:${i}`), url);
  const points = [...ring.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const h = refFbiHash(key);
  const at = points.find((p) => p >= h) ?? points[0]!;
  return ring.get(at)!;
}
