import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody, SimHttpError } from './errors.ts';

/** Largest request body a pod reads (a 32k-token prompt is well below it). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Reads the whole body; rejects with a 413 SimHttpError beyond `limitBytes`. */
export function readBody(req: IncomingMessage, limitBytes = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limitBytes) {
        failed = true;
        reject(new SimHttpError(413, `request body exceeds ${limitBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) {
        failed = true;
        reject(err);
      }
    });
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

export function sendError(res: ServerResponse, err: SimHttpError, headers: Record<string, string> = {}): void {
  sendJson(res, err.status, errorBody(err.status, err.message, err.param), headers);
}
