// Relaying a pod's response to the client as it arrives. The Node path writes undici's Readable body
// straight into the ServerResponse: headers flushed at once, each chunk written as it comes (the first
// event is never held back), the upstream paused while the client's socket is full. If the pod dies
// after the first byte, an SSE client gets a final `data: {"error": ...}` event and a clean end (no
// [DONE], so it cannot mistake the answer for complete); a JSON client gets a cut connection.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { openAIErrorBody } from '@pdrouter/core';
import { downstreamHeaders } from './headers.ts';
import type { UpstreamResponse } from './upstream.ts';
import {
  type AbortCause,
  classifyUpstreamError,
  type LegFailure,
  REQUEST_TIMEOUT_FAILURE,
  SHUTDOWN_FAILURE,
} from './upstream-errors.ts';

export type RelayOutcome =
  | { kind: 'completed' }
  | { kind: 'client_closed' }
  | { kind: 'upstream_failed'; failure: LegFailure; afterFirstChunk: boolean };

export interface RelayHooks {
  readonly requestId: string;
  /** Called once, when the first body chunk is handed to the client. */
  onFirstChunk(): void;
  /** Why the request's own signal fired, if it did (client gone, total timeout). */
  abortCause(): AbortCause | undefined;
  /** Registers the relay's ending at the drain deadline; returns its unregistration. */
  onCut?(cut: () => void): () => void;
}

const isEventStream = (up: UpstreamResponse): boolean => {
  const ct = up.headers['content-type'];
  return typeof ct === 'string' && ct.includes('text/event-stream');
};

const ignoreError = () => {};

export function midStreamErrorEvent(failure: LegFailure): string {
  const body =
    failure.kind === 'request_timeout'
      ? openAIErrorBody(`stream ended: ${failure.message}`, 'timeout_error', 'upstream_timeout')
      : openAIErrorBody(
          // The kind only: the pod's own message (addresses, socket errors) is in the log.
          `upstream pod failed mid-stream (${failure.kind})`,
          'upstream_error',
          'upstream_error',
        );
  return `data: ${JSON.stringify(body)}\n\n`;
}

type HttpSocket = Socket & { _httpMessage?: unknown };

/**
 * The client's socket when body chunks can go to it directly, framed here: a chunked response whose
 * headers are already on that socket and nothing of it is queued in the response (an SSE answer after
 * flushHeaders). ServerResponse.write sends each chunk as four writes (size, CRLF, bytes, CRLF), corks the
 * socket and uncorks it on the next tick, then gathers them into one writev; with one token per chunk
 * that JavaScript runs per token. One pre-framed buffer per chunk puts the same bytes on the wire with a
 * quarter of the buffered writes, and a full socket pauses the pod the same way. Anything else (HTTP/1.0, a
 * Content-Length from the pod, a JSON answer, a response queued behind a pipelined one) keeps
 * ServerResponse.write, and so does every chunk once the response no longer owns a writable socket.
 */
function directSocket(out: ServerResponse, headersFlushed: boolean): HttpSocket | undefined {
  // headersSent is true from writeHead on, before the head has left the response: only an explicit
  // flushHeaders() puts the status line on the socket ahead of the first framed chunk.
  const socket = out.socket as HttpSocket | null;
  if (!headersFlushed || !socket || socket._httpMessage !== out || !out.chunkedEncoding) return undefined;
  // Bytes of this response still held by the response itself (headers not yet handed to the socket).
  if (out.writableLength > socket.writableLength) return undefined;
  return socket;
}

const CRLF = 0x0d0a;
const CRLF_BYTES = Buffer.from('\r\n', 'latin1');
/**
 * Chunks up to this size are copied into one framed buffer (a token event is a few hundred bytes); larger
 * ones are written as size line, bytes and CRLF into the corked socket (one writev, no copy of the bytes).
 */
const FRAME_COPY_MAX_BYTES = 2048;

/** Writes one HTTP/1.1 chunk to a corked socket; false when the socket's buffer is full. */
function writeFramed(socket: Socket, chunk: Buffer): boolean {
  if (chunk.length <= FRAME_COPY_MAX_BYTES) return socket.write(frameChunk(chunk));
  socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
  socket.write(chunk);
  return socket.write(CRLF_BYTES);
}

/** One HTTP/1.1 chunk: size in hex, CRLF, the bytes, CRLF. */
function frameChunk(chunk: Buffer): Buffer {
  const size = chunk.length.toString(16);
  const framed = Buffer.allocUnsafe(size.length + chunk.length + 4);
  let at = framed.write(size, 0, 'latin1');
  at = framed.writeUInt16BE(CRLF, at);
  at += chunk.copy(framed, at);
  framed.writeUInt16BE(CRLF, at);
  return framed;
}

export function relayToNode(out: ServerResponse, up: UpstreamResponse, hooks: RelayHooks): Promise<RelayOutcome> {
  const sse = isEventStream(up);
  const body = up.body;
  try {
    out.writeHead(up.statusCode, downstreamHeaders(up.headers, hooks.requestId));
  } catch (err) {
    // A header value Node refuses to send (or a response already sent): nothing can reach the client.
    body.destroy();
    out.destroy();
    return Promise.resolve({
      kind: 'upstream_failed',
      failure: { kind: 'other', timeout: false, message: (err as Error).message },
      afterFirstChunk: false,
    });
  }
  if (sse) out.flushHeaders();
  const socket = directSocket(out, sse);
  return new Promise<RelayOutcome>((resolve) => {
    let first = true;
    let settled = false;
    const settle = (outcome: RelayOutcome) => {
      if (settled) return;
      settled = true;
      unregisterCut?.();
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      out.off('drain', onDrain);
      // The socket outlives this response (keep-alive): its listener goes with the relay.
      socket?.off('drain', onDrain);
      out.off('close', onClose);
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      if (first) {
        first = false;
        hooks.onFirstChunk();
      }
      if (chunk.length === 0) return;
      if (socket?.writable && socket._httpMessage === out) {
        // Chunks parsed from one upstream read arrive in the same tick: held until the tick ends, they
        // leave in one writev (as ServerResponse.write's cork does); a lone chunk is one plain write.
        if (!corked) {
          corked = true;
          socket.cork();
          process.nextTick(uncork);
        }
        if (!writeFramed(socket, chunk)) body.pause();
      } else if (!out.write(chunk)) body.pause();
    };
    let corked = false;
    const uncork = () => {
      corked = false;
      socket?.uncork();
    };
    const onDrain = () => body.resume();
    const onEnd = () => {
      // Completed once the last byte has left for the client's socket (a slow reader keeps it in our
      // buffers until then), so a drain waits for it and close() cannot cut it.
      out.end(() => settle({ kind: 'completed' }));
    };
    const onError = (err: unknown) => {
      const cause = hooks.abortCause();
      if (cause === 'client_closed' || out.destroyed) {
        settle({ kind: 'client_closed' });
        return;
      }
      const failure = cause === 'request_timeout' ? REQUEST_TIMEOUT_FAILURE : classifyUpstreamError(err);
      if (sse && out.writable) out.end(midStreamErrorEvent(failure));
      else out.destroy();
      settle({ kind: 'upstream_failed', failure, afterFirstChunk: !first });
    };
    const onClose = () => {
      if (out.writableFinished) return;
      // The client left: stop reading; the request's abort signal (fired by the caller) cancels the pod.
      body.destroy();
      settle({ kind: 'client_closed' });
    };
    const unregisterCut = hooks.onCut?.(() => {
      // The drain deadline: an SSE client learns the stream is over and incomplete (no [DONE]).
      body.off('error', onError);
      body.on('error', ignoreError);
      body.destroy();
      if (sse && out.writable) out.end(midStreamErrorEvent(SHUTDOWN_FAILURE));
      else out.destroy();
      settle({ kind: 'upstream_failed', failure: SHUTDOWN_FAILURE, afterFirstChunk: !first });
    });
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    out.on('drain', onDrain);
    socket?.on('drain', onDrain);
    out.on('close', onClose);
    // A write racing the client's disconnect errors the response (possibly a tick later); without a
    // listener that would be an uncaught exception. 'close' follows and settles the relay.
    out.on('error', ignoreError);
  });
}

/**
 * The same relay as a Web Response, for in-process requests (app.request()) where there is no Node
 * socket. Not the production path.
 */
export function relayToWeb(up: UpstreamResponse, hooks: RelayHooks, done: (outcome: RelayOutcome) => void): Response {
  const sse = isEventStream(up);
  const body = up.body;
  let first = true;
  let settled = false;
  const settle = (o: RelayOutcome) => {
    if (!settled) {
      settled = true;
      done(o);
    }
  };
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      body.on('data', (chunk: Buffer) => {
        if (first) {
          first = false;
          hooks.onFirstChunk();
        }
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) body.pause();
      });
      body.on('end', () => {
        controller.close();
        settle({ kind: 'completed' });
      });
      body.on('error', (err) => {
        const cause = hooks.abortCause();
        if (cause === 'client_closed') {
          settle({ kind: 'client_closed' });
          controller.error(err);
          return;
        }
        const failure = cause === 'request_timeout' ? REQUEST_TIMEOUT_FAILURE : classifyUpstreamError(err);
        if (sse) {
          controller.enqueue(new TextEncoder().encode(midStreamErrorEvent(failure)));
          controller.close();
        } else controller.error(err);
        settle({ kind: 'upstream_failed', failure, afterFirstChunk: !first });
      });
    },
    pull() {
      body.resume();
    },
    cancel() {
      body.destroy();
      settle({ kind: 'client_closed' });
    },
  });
  const headers = new Headers();
  for (const [k, v] of Object.entries(downstreamHeaders(up.headers, hooks.requestId))) {
    if (v === undefined) continue;
    try {
      if (Array.isArray(v)) for (const item of v) headers.append(k, item);
      else headers.set(k, String(v));
    } catch {
      // A value the Fetch API refuses: that header is dropped, the response still goes out.
    }
  }
  return new Response(stream, { status: up.statusCode, headers });
}
