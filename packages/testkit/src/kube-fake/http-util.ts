import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, KubeApiError } from './status.ts';

/** The API server's own request body limit (3 MiB): larger bodies are refused, not buffered. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache, private',
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: KubeApiError): void {
  sendJson(res, err.code, err.toStatus());
}

export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new KubeApiError(413, 'BadRequest', 'the request body is too large');
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw badRequest('the request body is empty');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** `true`, `1` (and kubectl's `True`) count as set, as the server's query-parameter decoding does. */
export function queryFlag(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  return v !== null && ['1', 'true'].includes(v.toLowerCase());
}
