// The client listener's own limits, rather than Node's defaults: how long a client may take to send its
// headers (slowloris), how many connections it may hold open, and OpenAI-shaped answers for requests
// that never reach the app (bad request line or headers, no Host, headers too large, too slow).
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { RouterError, routerErrorBody } from '@pdrouter/core';

export interface ClientEdgeConfig {
  /** Receiving a request's headers after its connection opened or its previous request ended. */
  readonly headersMs: number;
  /** Receiving a whole request (headers and body). */
  readonly requestMs: number;
  /** Open client connections; 0: no cap. */
  readonly maxConnections: number;
}

/** Sets the listener's timeouts and connection cap, and answers requests the HTTP parser refused. */
export function applyClientEdge(server: Server, edge: ClientEdgeConfig): void {
  server.headersTimeout = edge.headersMs;
  server.requestTimeout = edge.requestMs;
  if (edge.maxConnections > 0) server.maxConnections = edge.maxConnections;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
      socket.destroy();
      return;
    }
    const [status, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'request headers are too large']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, `request not received within ${edge.requestMs} ms`]
          : [400, `malformed HTTP request (${err.code ?? 'parse error'})`];
    socket.end(rawErrorResponse(status, message));
  });
}

/** A request without Host (HTTP/1.0 allows it; the routes need one to build the URL): a clear 400. */
export function missingHost(req: IncomingMessage): boolean {
  return req.headers.host === undefined || req.headers.host === '';
}

export function rawErrorResponse(status: number, message: string): string {
  const body = JSON.stringify(
    routerErrorBody(new RouterError(status === 408 ? 'invalid_request' : 'invalid_request', message, { status })),
  );
  return (
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
    `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}
