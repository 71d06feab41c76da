// One generation request end to end (docs/design.md §2): read and check the body, hash the key once, set up
// the request's abort signal (client gone, total timeout), run the legs (legs.ts) with that hash on the
// prefill and decode rings, relay the answer (relay.ts) and settle the accounting when it ends.
import type { ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { extractHashKey, fbiHash, RouterError } from '@pdrouter/core';
import type { Context } from 'hono';
import type { Admission, Release } from './admission.ts';
import type { BodyBudget, BodyReservation } from './body-budget.ts';
import type { BodyParser } from './body-parser.ts';
import type { ProxyConfig } from './config.ts';
import type { Answer, Exchange } from './exchange.ts';
import { type AuthMode, headersRecord, upstreamAuth, upstreamHeaders } from './headers.ts';
import { Legs } from './legs.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Logger } from './logger.ts';
import type { ProxyMetrics } from './metrics.ts';
import { classifyOutcome } from './outcome.ts';
import { runPd } from './pd-flow.ts';
import type { PodRegistry } from './pods.ts';
import { usesHash, usesPrefix } from './policies.ts';
import type { PreparedBody } from './prepare-body.ts';
import { type RelayOutcome, relayToNode, relayToWeb } from './relay.ts';
import { checkJsonContentType, type GenerationRoute, readNodeBody, readWebBody, streamFlag } from './request-body.ts';
import { requestIds } from './request-id.ts';
import type { RouterState, RoutingTable } from './router-state.ts';
import type { Routing } from './routing.ts';
import type { RequestTrace, Tracing } from './tracing.ts';
import type { Upstreams } from './upstream.ts';
import { RequestAborted } from './upstream-errors.ts';

export interface ForwarderDeps {
  config: ProxyConfig;
  routing: Routing;
  state: RouterState;
  pods: PodRegistry;
  upstreams: Upstreams;
  metrics: ProxyMetrics;
  logger: Logger;
  lifecycle: Lifecycle;
  admission: Admission;
  tracing?: Tracing;
  bodyBudget: BodyBudget;
  bodyParser: BodyParser;
}

/** Header values as the hash key reads them (the first of a repeated header), plain strings for a worker. */
function firstValues(headers: Readonly<Record<string, string | string[] | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in headers) {
    const v = headers[k];
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined) out[k] = first;
  }
  return out;
}

export class Forwarder {
  private readonly d: ForwarderDeps;
  private readonly legs: Legs;
  private readonly needsHash: boolean;
  /** A forwarded route has no routing text: the scoring policies spread it by the key's hash. */
  private readonly forwardNeedsHash: boolean;
  private readonly auth: AuthMode;

  constructor(deps: ForwarderDeps) {
    this.d = deps;
    const c = deps.config;
    this.legs = new Legs(deps);
    const policies = c.mode === 'pd' ? [c.prefillPolicy, c.decodePolicy] : [c.plainPolicy];
    this.needsHash = policies.some(usesHash);
    this.forwardNeedsHash = policies.some((p) => usesHash(p) || usesPrefix(p));
    this.auth = upstreamAuth(c);
  }

  /**
   * Any other POST a vLLM pod serves (embeddings, rerank, score, tokenize, audio...): forwarded as it is
   * to one pod (decode in P/D mode), chosen by the decode (or plain) policy, with the same limits,
   * admission, errors and metrics. `label` names it in metrics (a known route, else "other").
   */
  forwarded(c: Context, path: string, label: string): Promise<Response> {
    return this.generation(c, label as GenerationRoute, path);
  }

  async generation(c: Context, route: GenerationRoute, forwardPath?: string): Promise<Response> {
    const { config, metrics } = this.d;
    const startedMs = performance.now();
    const rm = metrics.route(route);
    rm.requests.inc();
    if (config.mode === 'pd' && forwardPath === undefined) rm.pdRequests.inc();
    if (this.d.tracing === undefined) return this.admitted(c, route, startedMs, undefined, forwardPath);
    const rt = this.d.tracing.startRequest(route, clientHeadersOf(c));
    try {
      return await this.admitted(c, route, startedMs, rt, forwardPath);
    } catch (err) {
      if (err instanceof RouterError) rt?.fail(err.code, err.status);
      else rt?.fail('internal_error', 500);
      throw err;
    } finally {
      rt?.end();
    }
  }

  private async admitted(
    c: Context,
    route: GenerationRoute,
    startedMs: number,
    rt: RequestTrace | undefined,
    forwardPath: string | undefined,
  ): Promise<Response> {
    const { config, metrics, lifecycle } = this.d;
    const rm = metrics.route(route);
    if (lifecycle.draining) throw new RouterError('draining', 'the router is shutting down; retry the request');
    if (forwardPath === undefined) checkJsonContentType(c.req.header('content-type'));
    const slot = this.d.admission.admit((cancel) => {
      (c.env as Partial<HttpBindings> | undefined)?.outgoing?.once('close', cancel);
    });
    const release: Release = typeof slot === 'function' ? slot : await slot;

    // Counted in flight from here, so a drain waits for a request still sending its body.
    lifecycle.begin();
    metrics.inFlightRequests.inc();
    let finished = false;
    const reservation = this.d.bodyBudget.reservation();
    const done = () => {
      if (finished) return;
      finished = true;
      reservation.release();
      const seconds = (performance.now() - startedMs) / 1000;
      rm.duration.observe(seconds);
      if (config.mode === 'pd' && forwardPath === undefined) rm.pdDuration.observe(seconds);
      metrics.inFlightRequests.dec();
      lifecycle.end();
      release();
    };
    try {
      return await this.forward(c, route, startedMs, reservation, done, rt, forwardPath);
    } catch (err) {
      done();
      throw err;
    }
  }

  private async forward(
    c: Context,
    route: GenerationRoute,
    startedMs: number,
    reservation: BodyReservation,
    done: () => void,
    rt: RequestTrace | undefined,
    forwardPath: string | undefined,
  ): Promise<Response> {
    const { config, metrics } = this.d;
    const rm = metrics.route(route);
    const env = c.env as Partial<HttpBindings> | undefined;
    const incoming = env?.incoming;
    const outgoing = env?.outgoing as ServerResponse | undefined;
    const limits = { maxBytes: config.maxPayloadBytes, timeoutMs: config.timeouts.clientBodyMs, reservation };
    const received = incoming ? await readNodeBody(incoming, limits) : await readWebBody(c.req.raw, limits);
    const clientHeaders: Record<string, string | string[] | undefined> = incoming
      ? incoming.headers
      : headersRecord(c.req.raw.headers);
    const { raw, body, hash, hashKey, prefillBody, prefix, promptTokens } =
      forwardPath !== undefined
        ? this.forwardedBody(received, clientHeaders)
        : await this.d.bodyParser.prepare(received, {
            route,
            prefill: config.mode === 'pd',
            prefix: this.d.routing.needsPrefix,
            ...(this.needsHash
              ? {
                  hashKey: {
                    mode: config.hashKeyMode,
                    router: config.vllmRouterKind,
                    ...(config.hashPrefixBytes !== undefined ? { prefixBytes: config.hashPrefixBytes } : {}),
                    headers: firstValues(clientHeaders),
                  },
                }
              : {}),
          });

    const table = this.d.state.table;
    this.legs.checkMembers(table);

    const ids = requestIds(clientHeaders, config.requestIdHeaders);
    const requestId = ids.legs;
    const controller = new AbortController();
    const ex: Exchange = {
      route,
      ...(forwardPath !== undefined ? { upstreamPath: forwardPath } : {}),
      rm,
      startedMs,
      requestId,
      clientRequestId: ids.client,
      ...(hashKey !== undefined ? { hashKey } : {}),
      ...(prefix !== undefined ? { prefix } : {}),
      ...(promptTokens !== undefined ? { promptTokens } : {}),
      ...(rt ? { trace: rt } : {}),
      streaming: streamFlag(body),
      headers: upstreamHeaders(
        clientHeaders,
        requestId,
        this.auth,
        incoming?.socket?.remoteAddress,
        forwardPath !== undefined,
      ),
      signal: controller.signal,
      abortCause: undefined,
      abort(cause) {
        if (ex.abortCause) return;
        ex.abortCause = cause;
        controller.abort(new RequestAborted(cause));
      },
      failures: [],
      upstreamWaitMs: 0,
      headersAtMs: 0,
    };
    const abort = ex.abort;
    const totalTimer = setTimeout(() => abort('request_timeout'), config.timeouts.totalMs);
    totalTimer.unref();
    let onClientClose: (() => void) | undefined;
    if (outgoing) {
      onClientClose = () => {
        if (!outgoing.writableFinished) abort('client_closed');
      };
      outgoing.on('close', onClientClose);
    } else {
      c.req.raw.signal?.addEventListener('abort', () => abort('client_closed'), { once: true });
    }

    const finish = () => {
      clearTimeout(totalTimer);
      if (outgoing && onClientClose) outgoing.off('close', onClientClose);
      done();
    };

    try {
      const answer =
        forwardPath !== undefined
          ? await this.legs.one(ex, table as RoutingTable, raw, hash)
          : config.mode === 'pd'
            ? await runPd(this.legs, ex, table as RoutingTable, raw, body, hash, prefillBody)
            : await this.legs.plain(ex, table as RoutingTable, raw, hash);
      ex.trace?.status(answer.res.statusCode);
      return await this.relay(ex, answer, outgoing, finish);
    } catch (err) {
      finish();
      if (err instanceof RequestAborted) {
        if (err.abortCause === 'client_closed') {
          rm.clientCancels.inc();
          metrics.requestError(route, 'client_closed');
          // Nobody is listening; tell the adapter not to write anything.
          return outgoing ? RESPONSE_ALREADY_SENT : new Response(null, { status: 499 });
        }
        if (err.abortCause === 'request_timeout') {
          throw new RouterError(
            'upstream_timeout',
            `request did not complete within ${config.timeouts.totalMs / 1000} s (--request-timeout-secs)`,
          );
        }
      }
      throw err;
    }
  }

  /**
   * POST /admin/explain: the pods this replica would send `route`'s request to now (its live prefix
   * index, fleet-wide load and pod gauges), with the scoring policies' scores. Nothing is sent and no
   * decision is counted; the body is read and hashed exactly as the route's own would be.
   */
  async explain(c: Context, route: GenerationRoute): Promise<Response> {
    const { config, routing } = this.d;
    checkJsonContentType(c.req.header('content-type'));
    const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
    const reservation = this.d.bodyBudget.reservation();
    try {
      const limits = { maxBytes: config.maxPayloadBytes, timeoutMs: config.timeouts.clientBodyMs, reservation };
      const received = incoming ? await readNodeBody(incoming, limits) : await readWebBody(c.req.raw, limits);
      const clientHeaders = clientHeadersOf(c);
      const { hash, hashKey, prefix, promptTokens } = await this.d.bodyParser.prepare(received, {
        route,
        prefill: false,
        prefix: routing.needsPrefix,
        ...(this.needsHash
          ? {
              hashKey: {
                mode: config.hashKeyMode,
                router: config.vllmRouterKind,
                ...(config.hashPrefixBytes !== undefined ? { prefixBytes: config.hashPrefixBytes } : {}),
                headers: firstValues(clientHeaders),
              },
            }
          : {}),
      });
      const table = this.d.state.table;
      this.legs.checkMembers(table);
      const t = table as RoutingTable;
      const request = { ...(hashKey !== undefined ? { hashKey } : {}), ...(prefix ? { prefix } : {}) };
      const roles: ('prefill' | 'decode' | 'plain')[] = config.mode === 'pd' ? ['prefill', 'decode'] : ['plain'];
      const attempts = config.retry.maxAttempts;
      const out: Record<string, unknown> = {};
      for (const role of roles) {
        const p = routing.explain(role, t.rings[role], hash, request);
        const d = p.decision;
        out[role] = {
          policy: p.policy,
          pod: p.order[0],
          order: p.order.slice(0, attempts),
          ...(d ? { reason: d.reason, why: d.why(), scores: d.scores, dropped: d.dropped } : {}),
        };
      }
      return c.json({ route, hashKey: hashKey ?? null, promptTokens: promptTokens ?? null, roles: out });
    } finally {
      reservation.release();
    }
  }

  /**
   * A forwarded route's body: sent as received. A JSON body is read for the hash key (vllm-router's
   * transparent routes key on the headers, then on the body serialised) and its `stream` flag.
   */
  private forwardedBody(
    received: Buffer,
    clientHeaders: Readonly<Record<string, string | string[] | undefined>>,
  ): PreparedBody {
    const { config } = this.d;
    let body: Record<string, unknown> = {};
    const type = String(clientHeaders['content-type'] ?? '');
    if (/^application\/json\b/i.test(type) || type === '') {
      try {
        const parsed: unknown = JSON.parse(received.toString('utf8'));
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
          body = parsed as Record<string, unknown>;
      } catch {
        // The pod answers a malformed body itself, as it would without a router.
      }
    }
    if (!this.forwardNeedsHash)
      return { raw: received, body, hash: undefined, hashKey: undefined, prefillBody: undefined };
    const headers = firstValues(clientHeaders);
    const hashKey = extractHashKey((name) => headers[name], body, {
      mode: config.hashKeyMode,
      router: config.hashKeyMode === 'vllm-router' && config.mode === 'pd' ? 'vllm-pd' : config.vllmRouterKind,
      ...(config.hashPrefixBytes !== undefined ? { prefixBytes: config.hashPrefixBytes } : {}),
    });
    return { raw: received, body, hash: fbiHash(hashKey), hashKey, prefillBody: undefined };
  }

  /** Hands the answer to the client and settles the accounting when the body is done. */
  private async relay(
    ex: Exchange,
    answer: Answer,
    outgoing: ServerResponse | undefined,
    finish: () => void,
  ): Promise<Response> {
    const { pods, metrics, logger } = this.d;
    let firstChunkMs = 0;
    const hooks = {
      requestId: ex.clientRequestId,
      onFirstChunk: () => {
        firstChunkMs = performance.now();
        const ttftMs = firstChunkMs - ex.startedMs;
        ex.rm.ttft.observe(ttftMs / 1000);
        const waitMs = ex.upstreamWaitMs + (firstChunkMs - ex.headersAtMs);
        ex.rm.overhead.observe(Math.max(0, ttftMs - waitMs) / 1000);
      },
      abortCause: () => ex.abortCause,
      onCut: (cut: () => void) => this.d.lifecycle.onCut(cut),
    };
    const settle = (outcome: RelayOutcome) => {
      pods.release(answer.pod);
      if (firstChunkMs > 0) ex.rm.streamDuration.observe((performance.now() - firstChunkMs) / 1000);
      if (outcome.kind === 'client_closed') {
        ex.abort('client_closed');
        ex.rm.clientCancels.inc();
        metrics.requestError(ex.route, 'client_closed');
      } else if (outcome.kind === 'upstream_failed') {
        // A stream cut by our own total timeout says nothing about the pod's health (the verdict says so).
        pods.record(answer.pod, classifyOutcome({ kind: 'transport', failure: outcome.failure }), outcome.failure.kind);
        metrics.midStreamFailures.labels(answer.role).inc();
        answer.pod.counters.streamErrors++;
        metrics.requestError(ex.route, 'mid_stream_failure');
        if (answer.role !== 'plain') metrics.pdError('mid_stream_failure');
        logger.warn('pod failed mid-stream', {
          requestId: ex.requestId,
          role: answer.role,
          pod: answer.pod.url,
          kind: outcome.failure.kind,
          error: outcome.failure.message,
        });
      }
      if (logger.enabled('debug')) {
        // The access log, off by default: which pods served the request (the seed's manual validation).
        logger.debug('request', {
          requestId: ex.requestId,
          route: ex.route,
          status: answer.res.statusCode,
          outcome: outcome.kind,
          prefill: ex.prefillPod,
          [answer.role === 'prefill' ? 'answeredBy' : answer.role]: answer.pod.url,
          failovers: ex.failures.length,
          ttftMs: firstChunkMs > 0 ? Math.round((firstChunkMs - ex.startedMs) * 100) / 100 : undefined,
          durationMs: Math.round((performance.now() - ex.startedMs) * 100) / 100,
        });
      }
      finish();
    };
    if (outgoing) {
      settle(await relayToNode(outgoing, answer.res, hooks));
      return RESPONSE_ALREADY_SENT;
    }
    return relayToWeb(answer.res, hooks, settle);
  }
}

/** The client's headers (Node's when there is a socket, else the Request's). */
function clientHeadersOf(c: Context): Readonly<Record<string, string | string[] | undefined>> {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  return incoming ? incoming.headers : headersRecord(c.req.raw.headers);
}
