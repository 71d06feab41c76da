// Header handling between client and pods. Hop-by-hop headers belong to one connection and are never
// forwarded: https://datatracker.ietf.org/doc/html/rfc9110#section-7.6.1
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ProxyConfig } from './config.ts';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Client headers the router sets itself on the legs. */
const REPLACED_UPSTREAM = new Set([
  'host',
  'content-length',
  'content-type',
  'expect',
  'x-request-id',
  'authorization',
  // Only the router picks a data-parallel rank (a ring member's), never the client.
  'x-data-parallel-rank',
  // Where the request came from is the router's to say: a client could write anything here.
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
]);

/**
 * The pod response headers a client sees: what describes the body and how to retry. Anything else a pod
 * (or whatever answers at its address) sets, Set-Cookie and server internals included, stays between the
 * pod and the router.
 */
const RELAYED_DOWNSTREAM = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'cache-control',
  'retry-after',
]);

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const tokens = text
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
  return tokens.length ? new Set(tokens) : undefined;
}

export type AuthMode = { kind: 'key'; value: string } | { kind: 'passthrough' } | { kind: 'none' };

/**
 * How the router authenticates to the pods, one rule for the generation legs, /v1/models and the health
 * probes: --api-key when set; otherwise the client's Authorization is passed on, unless the clients
 * authenticate with our ingress keys (never handed to a pod).
 */
export function upstreamAuth(config: Pick<ProxyConfig, 'backendApiKey' | 'ingressApiKeys'>): AuthMode {
  if (config.backendApiKey) return { kind: 'key', value: config.backendApiKey };
  return config.ingressApiKeys.length > 0 ? { kind: 'none' } : { kind: 'passthrough' };
}

/** The Authorization a request to a pod carries under `auth` (undefined: none). */
export function upstreamAuthorization(
  auth: AuthMode,
  clientAuthorization: string | string[] | undefined,
): string | undefined {
  if (auth.kind === 'key') return `Bearer ${auth.value}`;
  if (auth.kind === 'passthrough' && typeof clientAuthorization === 'string' && clientAuthorization !== '')
    return clientAuthorization;
  return undefined;
}

/**
 * The headers sent on both legs: the client's end-to-end headers, the request id, JSON content type and
 * the Authorization the configuration asks for. Built once per request.
 */
export function upstreamHeaders(
  client: Readonly<Record<string, string | string[] | undefined>>,
  requestId: string,
  auth: AuthMode,
  /** The client's socket address, sent as X-Forwarded-For / X-Real-IP / Forwarded. */
  clientAddress?: string,
  /** Forwarded routes keep the client's content type (multipart audio, say). */
  keepContentType = false,
): Record<string, string> {
  const named = connectionTokens(client.connection);
  const out: Record<string, string> = {};
  for (const key in client) {
    const value = client[key];
    if (value === undefined || HOP_BY_HOP.has(key) || REPLACED_UPSTREAM.has(key) || named?.has(key)) continue;
    out[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  const clientType = client['content-type'];
  out['content-type'] =
    keepContentType && typeof clientType === 'string' && clientType !== '' ? clientType : 'application/json';
  out['x-request-id'] = requestId;
  if (clientAddress) {
    out['x-forwarded-for'] = clientAddress;
    out['x-real-ip'] = clientAddress;
    out['x-forwarded-proto'] = 'http';
    out.forwarded = `for=${clientAddress.includes(':') ? `"[${clientAddress}]"` : clientAddress};proto=http`;
  }
  const authorization = upstreamAuthorization(auth, client.authorization);
  if (authorization !== undefined) out.authorization = authorization;
  return out;
}

/** The pod's response headers as sent to the client: the allow-listed ones, plus the request id. */
export function downstreamHeaders(upstream: IncomingHttpHeaders, requestId: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const key in upstream) {
    const value = upstream[key];
    if (value === undefined || !RELAYED_DOWNSTREAM.has(key)) continue;
    out[key] = value;
  }
  out['x-request-id'] = requestId;
  return out;
}

/** Node's IncomingMessage headers, or a Headers object turned into the same shape (in-process requests). */
export function headersRecord(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}
