// CORS for browser clients (--cors-allowed-origins), as vllm-router's layer answers: the listed origins
// (or `*`) may call GET and POST with Content-Type and Authorization, read X-Request-Id, and cache a
// preflight for an hour. Without the flag no CORS header is sent, so browsers keep cross-origin calls
// out (vllm-router allows every origin then; `--cors-allowed-origins '*'` is that behaviour).
import type { ServerResponse } from 'node:http';
import type { MiddlewareHandler } from 'hono';

export const CORS_MAX_AGE_SECONDS = 3600;
const ALLOW_METHODS = 'GET, POST, OPTIONS';
const ALLOW_HEADERS = 'content-type, authorization';
const EXPOSE_HEADERS = 'x-request-id';

export function corsMiddleware(allowed: readonly string[]): MiddlewareHandler {
  const any = allowed.includes('*');
  const origins = new Set(allowed);
  return async function cors(c, next) {
    const origin = c.req.header('origin');
    const allowOrigin = origin === undefined ? undefined : any ? '*' : origins.has(origin) ? origin : undefined;
    if (c.req.method === 'OPTIONS' && c.req.header('access-control-request-method') !== undefined) {
      // A preflight is answered here, for every path: the browser only reads the headers.
      const res = new Response(null, { status: 204 });
      res.headers.set('vary', 'origin, access-control-request-method, access-control-request-headers');
      if (allowOrigin !== undefined) {
        res.headers.set('access-control-allow-origin', allowOrigin);
        res.headers.set('access-control-allow-methods', ALLOW_METHODS);
        res.headers.set('access-control-allow-headers', ALLOW_HEADERS);
        res.headers.set('access-control-max-age', String(CORS_MAX_AGE_SECONDS));
      }
      return res;
    }
    if (allowOrigin === undefined) return next();
    // Streams are written straight to the socket: headers set here are merged into their writeHead.
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    outgoing?.setHeader('access-control-allow-origin', allowOrigin);
    outgoing?.setHeader('access-control-expose-headers', EXPOSE_HEADERS);
    if (!any) outgoing?.setHeader('vary', 'origin');
    await next();
    c.res.headers.set('access-control-allow-origin', allowOrigin);
    c.res.headers.set('access-control-expose-headers', EXPOSE_HEADERS);
    if (!any) c.res.headers.set('vary', 'origin');
  };
}
