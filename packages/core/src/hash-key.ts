import { fbiHash, fbiHashBytes } from './fbi-hash.ts';
import { conversationText, promptText } from './routing-text.ts';
import { u64ToHex } from './u64.ts';
import { EMPTY_TEXT_KEY, type HeaderLookup, headerKey, type VllmRouterKind, vllmRouterKey } from './vllm-router-key.ts';

export type { HeaderLookup } from './vllm-router-key.ts';

/**
 * How a request's hash key is chosen.
 * - `vllm-router`: vllm-router's key strings exactly (switching routers keeps caches warm), for the
 *   router given by `HashKeyOptions.router` (see vllm-router-key.ts).
 * - `affinity`: ignores per-request ids (x-request-id, x-trace-id) and keys on the session or user,
 *   else on the conversation (chat: system + first user message), else on a prompt prefix.
 */
export type HashKeyMode = 'vllm-router' | 'affinity';
export const HASH_KEY_MODES: readonly HashKeyMode[] = Object.freeze(['vllm-router', 'affinity']);

export interface HashKeyOptions {
  mode: HashKeyMode;
  /** vllm-router mode: which of its routers is reproduced; `pd` (its --pd-disaggregation) when unset. */
  router?: VllmRouterKind;
  /** Affinity mode: UTF-8 bytes of the prompt that form its key (cut on a character boundary). */
  prefixBytes?: number;
}

/** The session headers without the per-request ids (affinity mode). */
export const AFFINITY_KEY_HEADERS: readonly string[] = Object.freeze([
  'x-session-id',
  'x-user-id',
  'x-tenant-id',
  'x-correlation-id',
]);
/** Default prompt prefix for affinity keys: long enough to tell prompts apart, short enough to share. */
export const DEFAULT_PREFIX_BYTES = 256;

const prefixEncoder = new TextEncoder();

function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

/** Body fields in vllm-router's priority: session_params.session_id, user, session_id, user_id. */
function bodyFieldKey(body: Record<string, unknown>): string | undefined {
  const params = body.session_params;
  if (typeof params === 'object' && params !== null && !Array.isArray(params)) {
    const nested = scalarText((params as Record<string, unknown>).session_id);
    if (nested !== undefined) return `session:${nested}`;
  }
  const user = scalarText(body.user);
  if (user !== undefined) return `user:${user}`;
  const sessionId = scalarText(body.session_id);
  if (sessionId !== undefined) return `session:${sessionId}`;
  const userId = scalarText(body.user_id);
  if (userId !== undefined) return `user:${userId}`;
  return undefined;
}

/** fbiHash of the first `prefixBytes` UTF-8 bytes of text, never splitting a character. */
function prefixHash(text: string, prefixBytes: number): string {
  const buffer = new Uint8Array(prefixBytes);
  // encodeInto stops before a character that does not fit, so the cut is always on a boundary.
  const { written } = prefixEncoder.encodeInto(text, buffer);
  return u64ToHex(fbiHashBytes(buffer.subarray(0, written)));
}

function asBody(body: unknown): Record<string, unknown> | undefined {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function affinityKey(headers: HeaderLookup, body: Record<string, unknown> | undefined, prefixBytes: number): string {
  const fromHeaders = headerKey(headers, AFFINITY_KEY_HEADERS);
  if (fromHeaders !== undefined) return fromHeaders;
  if (body === undefined) return EMPTY_TEXT_KEY;
  const fromFields = bodyFieldKey(body);
  if (fromFields !== undefined) return fromFields;
  const conversation = conversationText(body.messages) ?? conversationText(body.input, body.instructions);
  if (conversation !== undefined) return `conversation:${u64ToHex(fbiHash(conversation))}`;
  const prompt = promptText(body.prompt) ?? (typeof body.input === 'string' ? body.input : undefined);
  if (prompt !== undefined && prompt.length > 0) return `prefix:${prefixHash(prompt, prefixBytes)}`;
  return EMPTY_TEXT_KEY;
}

/**
 * The string a request is hashed by (then placed with fbiHash on the rings). `body` is the parsed
 * JSON (a JSON string is parsed too); any shape is accepted and nothing throws.
 *
 * vllm-router mode: the key the chosen vllm-router router computes (vllm-router-key.ts).
 *
 * affinity mode: headers x-session-id, x-user-id, x-tenant-id, x-correlation-id ->
 * `header:{name}:{value}`; body session_params.session_id -> `session:{v}`, user -> `user:{v}`,
 * session_id -> `session:{v}`, user_id -> `user:{v}`; else `conversation:{hash}` of system + first
 * user message, else `prefix:{hash}` of the first prefixBytes of the prompt, else `request:`.
 */
export function extractHashKey(headers: HeaderLookup, body: unknown, options: HashKeyOptions): string {
  try {
    const parsed = asBody(body);
    if (options.mode === 'affinity') {
      const prefixBytes =
        options.prefixBytes !== undefined && Number.isInteger(options.prefixBytes) && options.prefixBytes > 0
          ? options.prefixBytes
          : DEFAULT_PREFIX_BYTES;
      return affinityKey(headers, parsed, prefixBytes);
    }
    return vllmRouterKey(options.router ?? 'pd', headers, parsed);
  } catch {
    // A throwing header lookup or a hostile getter must not fail the request: route it by the empty text.
    return EMPTY_TEXT_KEY;
  }
}

/** A HeaderLookup over a plain object, Map or Headers-like value (names matched case-insensitively). */
export function headerLookupFrom(
  source: Record<string, string | string[] | undefined> | Map<string, string> | { get(name: string): string | null },
): HeaderLookup {
  if (source instanceof Map) {
    const lower = new Map<string, string>();
    for (const [k, v] of source) lower.set(k.toLowerCase(), v);
    return (name) => lower.get(name);
  }
  if (typeof (source as { get?: unknown }).get === 'function') {
    const headers = source as { get(name: string): string | null };
    return (name) => headers.get(name) ?? undefined;
  }
  const lower = new Map<string, string>();
  for (const [k, v] of Object.entries(source as Record<string, string | string[] | undefined>)) {
    if (typeof v === 'string') lower.set(k.toLowerCase(), v);
    else if (Array.isArray(v)) lower.set(k.toLowerCase(), v.join(', '));
  }
  return (name) => lower.get(name);
}
