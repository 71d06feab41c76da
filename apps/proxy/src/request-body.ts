// Reading and checking the client's body: at most --max-payload-size bytes (413 beyond, checked against
// Content-Length first so an oversize upload is refused before it is read), within the budget shared by
// all requests (body-budget.ts), a JSON shape within json-shape.ts's limits (checked on each chunk as it
// arrives), JSON, an object, and the field the route cannot do without.
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { RouterError } from '@pdrouter/core';
import type { BodyReservation } from './body-budget.ts';
import { JsonShapeScanner } from './json-shape.ts';

export interface BodyLimits {
  /** --max-payload-size. */
  readonly maxBytes: number;
  /** --client-body-timeout-ms. */
  readonly timeoutMs: number;
  /** The request's share of --max-buffered-body-bytes. */
  readonly reservation: BodyReservation;
}

export type GenerationRoute = '/v1/completions' | '/v1/chat/completions' | '/v1/responses';

/** The field each route needs, as vLLM's OpenAI server requires it. */
const REQUIRED_FIELD: Record<GenerationRoute, string> = {
  '/v1/completions': 'prompt',
  '/v1/chat/completions': 'messages',
  '/v1/responses': 'input',
};

function tooLarge(limit: number): RouterError {
  return new RouterError(
    'payload_too_large',
    `request body is larger than the limit of ${limit} bytes (--max-payload-size)`,
  );
}

/**
 * Reads a Node request body with a byte limit and a deadline (a client that sends its headers and then
 * stalls would otherwise hold an in-flight slot, and a drain, for as long as Node's own 300 s request
 * timeout), without Web Streams.
 */
export function readNodeBody(incoming: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const { maxBytes: limit, timeoutMs, reservation } = limits;
  const declared = Number(incoming.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  if (incoming.readableEnded) return Promise.resolve(Buffer.alloc(0));
  // A declared length is counted against the budget before any of it is read; bytes beyond it as they come.
  let reserved = 0;
  try {
    if (Number.isFinite(declared) && declared > 0) reservation.add(declared);
    reserved = Math.max(0, declared || 0);
  } catch (err) {
    return Promise.reject(err);
  }
  const scanner = new JsonShapeScanner();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const timer = setTimeout(() => {
      finish(
        new RouterError(
          'invalid_request',
          `request body not received within ${timeoutMs} ms (--client-body-timeout-ms)`,
          { status: 408 },
        ),
      );
    }, timeoutMs);
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      try {
        if (size > limit) throw tooLarge(limit);
        if (size > reserved) {
          reservation.add(size - reserved);
          reserved = size;
        }
        scanner.feed(chunk);
      } catch (err) {
        // Stop buffering; the rest of the upload is drained by the server when the response ends.
        finish(err);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = (err: Error) =>
      finish(new RouterError('invalid_request', `could not read the request body: ${err.message}`));
    const onClose = () => {
      if (!incoming.complete)
        finish(new RouterError('invalid_request', 'client closed the connection before the body was complete'));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

/** Reads a Web Request body (in-process requests) with the same limits. */
export async function readWebBody(request: Request, limits: BodyLimits): Promise<Buffer> {
  const limit = limits.maxBytes;
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const buf = Buffer.from(await request.arrayBuffer());
  if (buf.length > limit) throw tooLarge(limit);
  limits.reservation.add(buf.length);
  new JsonShapeScanner().feed(buf);
  return buf;
}

/**
 * Refuses a body whose Content-Type is not JSON (415). A missing Content-Type is read as JSON, as vLLM's
 * server does; text/plain and form types are what a browser may send cross-site without a preflight.
 */
export function checkJsonContentType(value: string | undefined): void {
  if (value === undefined || value.trim() === '') return;
  const type = (value.split(';')[0] as string).trim().toLowerCase();
  if (type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))) return;
  throw new RouterError(
    'unsupported_media_type',
    `request body must be sent as application/json, not ${JSON.stringify(type)}`,
  );
}

const TRUE_TEXT = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const FALSE_TEXT = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

/**
 * `stream` as vLLM reads it: its request models are pydantic with lax booleans, so "true", "yes", 1 and the
 * like stream, "false", 0 and the like do not, and anything else is a validation error (400 here, as there).
 * The pod gets the client's value as sent and decides the same way.
 */
export function streamFlag(body: Record<string, unknown>): boolean {
  const v = body.stream;
  if (v === undefined || v === null || v === false) return false;
  if (v === true) return true;
  if (typeof v === 'number' && (v === 0 || v === 1)) return v === 1;
  if (typeof v === 'string') {
    const t = v.toLowerCase();
    if (TRUE_TEXT.has(t)) return true;
    if (FALSE_TEXT.has(t)) return false;
  }
  throw new RouterError('invalid_request', `'stream' must be a boolean, got ${JSON.stringify(v)}`, { param: 'stream' });
}

/** Parses and checks a generation request body. Never throws anything but RouterError. */
export function parseGenerationBody(raw: Buffer, route: GenerationRoute): Record<string, unknown> {
  if (raw.length === 0) throw new RouterError('invalid_json', 'request body is empty: expected a JSON object');
  // JSON is UTF-8 (RFC 8259 §8.1). Decoding would replace bad bytes silently, and the decode leg forwards
  // the client's bytes as they are: both legs must see the same prompt.
  if (!isUtf8(raw)) throw new RouterError('invalid_json', 'request body is not valid UTF-8');
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new RouterError('invalid_json', `request body is not valid JSON: ${(err as Error).message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RouterError(
      'invalid_request',
      `request body must be a JSON object, got ${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}`,
    );
  }
  const field = REQUIRED_FIELD[route];
  const value = (body as Record<string, unknown>)[field];
  if (value === undefined || value === null) {
    throw new RouterError('invalid_request', `'${field}' is required for ${route}`, { param: field });
  }
  return body as Record<string, unknown>;
}

/**
 * Fields of a generation body only the router and the pods may set. kv_transfer_params tells a decode
 * pod which host to pull KV blocks from (vLLM's NIXL side-channel handshake): from a client it would make
 * a pod connect to a host of the client's choosing. Only a prefill pod's answer supplies them.
 */
export const POD_ONLY_FIELDS: readonly string[] = Object.freeze(['kv_transfer_params']);

/**
 * The client's body without the pod-only fields, on every path (plain, P/D, decode-only fallback). The
 * bytes stay as received when there is nothing to remove; otherwise the body is rebuilt from the parsed
 * object (any spelling of the key, escapes and duplicates included, is one own property there).
 */
export function withoutPodOnlyFields(
  raw: Buffer,
  body: Record<string, unknown>,
): { raw: Buffer; body: Record<string, unknown> } {
  if (!POD_ONLY_FIELDS.some((f) => Object.hasOwn(body, f))) return { raw, body };
  const clean: Record<string, unknown> = { ...body };
  for (const f of POD_ONLY_FIELDS) delete clean[f];
  return { raw: Buffer.from(bodyJson(clean)), body: clean };
}

/** JSON text of a body built from the client's: a body nested too deeply to serialise is the client's error. */
export function bodyJson(value: Record<string, unknown>): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (err instanceof RangeError) throw new RouterError('invalid_request', 'request body is nested too deeply');
    throw err;
  }
}
