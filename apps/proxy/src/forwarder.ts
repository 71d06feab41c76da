// One generation request end to end (DESIGN.md §2): read and check the body, hash the key once, walk the
// prefill and decode rings with that hash, run the prefill leg (non-streaming, max_tokens 1,
// do_remote_decode), hand its kv_transfer_params verbatim to the decode leg, relay the decode response.
// Plain mode sends the client's bytes unchanged to one worker. A pod that refuses, times out or answers
// 5xx before the first byte is replaced by the next one of the walk; a 4xx is the client's and is
// returned as is.
import type { ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import {
  buildDecodeBody,
  buildPrefillBody,
  extractHashKey,
  extractKvTransferParams,
  fbiHash,
  newRequestId,
  RouterError,
  type U64,
} from '@pdrouter/core';
import type { Context } from 'hono';
import type { ProxyConfig } from './config.ts';
import { type AuthMode, headersRecord, upstreamHeaders } from './headers.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { Logger } from './logger.ts';
import type { ProxyMetrics, RouteMetrics } from './metrics.ts';
import type { PodRegistry, PodState } from './pods.ts';
import { Picker, usesHash } from './policies.ts';
import { type RelayOutcome, relayToNode, relayToWeb } from './relay.ts';
import { type GenerationRoute, parseGenerationBody, readNodeBody, readWebBody } from './request-body.ts';
import type { RouterState, RoutingTable } from './router-state.ts';
import type { UpstreamResponse, Upstreams } from './upstream.ts';
import { type AbortCause, classifyUpstreamError, type LegFailure, RequestAborted } from './upstream-errors.ts';

export interface ForwarderDeps {
  config: ProxyConfig;
  state: RouterState;
  pods: PodRegistry;
  upstreams: Upstreams;
  metrics: ProxyMetrics;
  logger: Logger;
  lifecycle: Lifecycle;
}

type LegRole = 'prefill' | 'decode' | 'plain';

/** A leg that got an answer the client should see (2xx stream, or the pod's 4xx). */
interface Answer {
  res: UpstreamResponse;
  pod: PodState;
  role: LegRole;
}

/** Per-request state shared by the legs. */
interface Exchange {
  readonly route: GenerationRoute;
  readonly rm: RouteMetrics;
  readonly startedMs: number;
  readonly requestId: string;
  readonly headers: Record<string, string>;
  readonly signal: AbortSignal;
  abortCause: AbortCause | undefined;
  abort(cause: AbortCause): void;
  readonly failures: LegFailure[];
}

type LegResult = { ok: true; res: UpstreamResponse } | { ok: false; failure: LegFailure };

export class Forwarder {
  private readonly d: ForwarderDeps;
  private readonly prefillPicker: Picker;
  private readonly decodePicker: Picker;
  private readonly plainPicker: Picker;
  private readonly needsHash: boolean;
  private readonly auth: AuthMode;

  constructor(deps: ForwarderDeps) {
    this.d = deps;
    const c = deps.config;
    const opts = { boundedLoadFactor: c.boundedLoadFactor };
    this.prefillPicker = new Picker(c.prefillPolicy, opts);
    this.decodePicker = new Picker(c.decodePolicy, opts);
    this.plainPicker = new Picker(c.plainPolicy, opts);
    this.needsHash = c.mode === 'pd' ? usesHash(c.prefillPolicy) || usesHash(c.decodePolicy) : usesHash(c.plainPolicy);
    // Without a backend key the client's Authorization is passed on, unless it is one of our ingress keys.
    this.auth = c.backendApiKey
      ? { kind: 'key', value: c.backendApiKey }
      : c.ingressApiKeys.length > 0
        ? { kind: 'none' }
        : { kind: 'passthrough' };
  }

  async generation(c: Context, route: GenerationRoute): Promise<Response> {
    const { config, metrics, lifecycle } = this.d;
    const startedMs = performance.now();
    const rm = metrics.route(route);
    rm.requests.inc();
    if (config.mode === 'pd') rm.pdRequests.inc();
    if (lifecycle.draining) throw new RouterError('draining', 'the router is shutting down; retry the request');

    const env = c.env as Partial<HttpBindings> | undefined;
    const incoming = env?.incoming;
    const outgoing = env?.outgoing as ServerResponse | undefined;
    const raw = incoming
      ? await readNodeBody(incoming, config.maxPayloadBytes)
      : await readWebBody(c.req.raw, config.maxPayloadBytes);
    const body = parseGenerationBody(raw, route);

    const table = this.d.state.table;
    this.checkMembers(table);
    const clientHeaders: Record<string, string | string[] | undefined> = incoming
      ? incoming.headers
      : headersRecord(c.req.raw.headers);
    let hash: U64 | undefined;
    if (this.needsHash) {
      const key = extractHashKey(
        (name) => {
          const v = clientHeaders[name];
          return Array.isArray(v) ? v[0] : v;
        },
        body,
        {
          mode: config.hashKeyMode,
          ...(config.hashPrefixBytes !== undefined ? { prefixBytes: config.hashPrefixBytes } : {}),
        },
      );
      hash = fbiHash(key);
    }

    const requestId = newRequestId();
    const controller = new AbortController();
    const ex: Exchange = {
      route,
      rm,
      startedMs,
      requestId,
      headers: upstreamHeaders(clientHeaders, requestId, this.auth),
      signal: controller.signal,
      abortCause: undefined,
      abort(cause) {
        if (ex.abortCause) return;
        ex.abortCause = cause;
        controller.abort(new RequestAborted(cause));
      },
      failures: [],
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

    lifecycle.begin();
    metrics.inFlightRequests.inc();
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(totalTimer);
      if (outgoing && onClientClose) outgoing.off('close', onClientClose);
      const seconds = (performance.now() - startedMs) / 1000;
      rm.duration.observe(seconds);
      if (config.mode === 'pd') rm.pdDuration.observe(seconds);
      metrics.inFlightRequests.dec();
      lifecycle.end();
    };

    try {
      const answer =
        config.mode === 'pd'
          ? await this.pd(ex, table as RoutingTable, body, hash)
          : await this.plain(ex, table as RoutingTable, raw, hash);
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

  private checkMembers(table: RoutingTable | undefined): void {
    const roles: LegRole[] = this.d.config.mode === 'pd' ? ['prefill', 'decode'] : ['plain'];
    for (const role of roles) {
      if (!table || table.members[role].length === 0) {
        throw new RouterError('no_members', `no ${role === 'plain' ? 'worker' : role} pods are available`);
      }
    }
  }

  /** The P/D flow: prefill walk, then decode walk. */
  private async pd(
    ex: Exchange,
    table: RoutingTable,
    body: Record<string, unknown>,
    hash: U64 | undefined,
  ): Promise<Answer> {
    const { pods, metrics, config, logger } = this.d;
    const prefillBody = JSON.stringify(buildPrefillBody(ex.route, body));
    const prefillOrder = this.limit(this.prefillPicker.order(table.rings.prefill, hash, pods));
    let kv: Record<string, unknown> | undefined;
    for (let i = 0; i < prefillOrder.length && kv === undefined; i++) {
      const pod = pods.get(prefillOrder[i] as string);
      if (i > 0) this.countFailover(ex, 'prefill');
      pod.metrics.prefillRequests.inc();
      pods.acquire(pod);
      let released = false;
      const release = () => {
        if (!released) {
          released = true;
          pods.release(pod);
        }
      };
      try {
        const r = await this.send(ex, table, pod.url, prefillBody, { 'accept-encoding': 'identity' });
        if (!r.ok) {
          this.legFailed(ex, pod, 'prefill', r.failure);
          continue;
        }
        const res = r.res;
        if (res.statusCode >= 400) {
          // The client's error (bad parameters, context too long...): theirs to see, as the pod wrote it.
          metrics.pdError('prefill_client_error');
          pods.recordSuccess(pod);
          released = true;
          return { res, pod, role: 'prefill' };
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(await res.body.text());
        } catch (err) {
          if (ex.abortCause) throw new RequestAborted(ex.abortCause);
          this.legFailed(ex, pod, 'prefill', {
            ...classifyUpstreamError(err),
            kind: err instanceof SyntaxError ? 'bad_prefill_response' : classifyUpstreamError(err).kind,
          });
          continue;
        }
        kv = extractKvTransferParams(parsed);
        if (kv === undefined) {
          // Never run decode without kv params because prefill answered something else: that would
          // silently prefill twice. The pod is misconfigured (no kv connector); try the next one.
          this.legFailed(ex, pod, 'prefill', {
            kind: 'bad_prefill_response',
            timeout: false,
            message: 'prefill response has no kv_transfer_params (is the pod running with a kv connector?)',
          });
          continue;
        }
        pods.recordSuccess(pod);
      } finally {
        release();
      }
    }

    let decodeBody: string;
    if (kv === undefined) {
      if (!config.decodeOnlyFallback || ex.abortCause) throw this.exhausted(ex, 'prefill');
      metrics.decodeOnlyFallbacks.inc();
      metrics.pdError('decode_only_fallback');
      logger.warn('no prefill pod answered: decode-only fallback', {
        requestId: ex.requestId,
        failures: ex.failures.map((f) => f.kind),
      });
      decodeBody = JSON.stringify(body);
    } else {
      decodeBody = JSON.stringify(buildDecodeBody(ex.route, body, kv));
    }
    return this.walk(
      ex,
      table,
      'decode',
      this.limit(this.decodePicker.order(table.rings.decode, hash, pods)),
      decodeBody,
    );
  }

  private plain(ex: Exchange, table: RoutingTable, raw: Buffer, hash: U64 | undefined): Promise<Answer> {
    return this.walk(ex, table, 'plain', this.limit(this.plainPicker.order(table.rings.plain, hash, this.d.pods)), raw);
  }

  /** Sends `body` to the pods in order until one answers below 500. */
  private async walk(
    ex: Exchange,
    table: RoutingTable,
    role: 'decode' | 'plain',
    order: string[],
    body: string | Buffer,
  ): Promise<Answer> {
    const { pods } = this.d;
    for (let i = 0; i < order.length; i++) {
      const pod = pods.get(order[i] as string);
      if (i > 0) this.countFailover(ex, role);
      if (role === 'decode') pod.metrics.decodeRequests.inc();
      else pod.metrics.processed.inc();
      pods.acquire(pod);
      const r = await this.send(ex, table, pod.url, body);
      if (!r.ok) {
        pods.release(pod);
        this.legFailed(ex, pod, role, r.failure);
        continue;
      }
      pods.recordSuccess(pod);
      return { res: r.res, pod, role };
    }
    throw this.exhausted(ex, role);
  }

  /**
   * One leg to one pod (`key` is its ring key: the URL, or url@rank for a data-parallel rank, which
   * goes to the URL with vLLM's X-data-parallel-rank header). Pod faults come back as failures; the
   * request's own abort is thrown.
   */
  private async send(
    ex: Exchange,
    table: RoutingTable,
    key: string,
    body: string | Buffer,
    extraHeaders?: Record<string, string>,
  ): Promise<LegResult> {
    const member = table.byKey.get(key);
    let headers = extraHeaders ? { ...ex.headers, ...extraHeaders } : ex.headers;
    if (member?.dpRank !== undefined) headers = { ...headers, 'x-data-parallel-rank': String(member.dpRank) };
    let res: UpstreamResponse;
    try {
      res = await this.d.upstreams.request(member?.url ?? key, {
        method: 'POST',
        path: ex.route,
        headers,
        body,
        signal: ex.signal,
      });
    } catch (err) {
      if (ex.abortCause) throw new RequestAborted(ex.abortCause);
      return { ok: false, failure: classifyUpstreamError(err) };
    }
    if (res.statusCode >= 500) {
      // Read the pod's message for the log, and free the connection.
      let text = '';
      try {
        text = (await res.body.text()).slice(0, 300);
      } catch {
        // The status is enough.
      }
      return {
        ok: false,
        failure: {
          kind: 'status_5xx',
          timeout: res.statusCode === 504,
          message: `HTTP ${res.statusCode}${text ? `: ${text}` : ''}`,
        },
      };
    }
    return { ok: true, res };
  }

  private legFailed(ex: Exchange, pod: PodState, role: LegRole, failure: LegFailure): void {
    const { pods, metrics, logger } = this.d;
    ex.failures.push(failure);
    pods.recordFailure(pod, failure.kind);
    if (role === 'prefill') pod.metrics.prefillErrors.inc();
    else if (role === 'decode') pod.metrics.decodeErrors.inc();
    if (role !== 'plain') metrics.pdError(`${role}_${failure.kind}`);
    logger.warn('leg failed', {
      requestId: ex.requestId,
      role,
      pod: pod.url,
      kind: failure.kind,
      error: failure.message,
    });
  }

  private countFailover(ex: Exchange, role: LegRole): void {
    this.d.metrics.failovers.labels(role).inc();
    ex.rm.retries.inc();
  }

  private limit(order: string[]): string[] {
    const max = 1 + this.d.config.maxFailovers;
    return order.length > max ? order.slice(0, max) : order;
  }

  private exhausted(ex: Exchange, role: LegRole): RouterError {
    const kinds = ex.failures.map((f) => f.kind);
    const allTimeouts = ex.failures.length > 0 && ex.failures.every((f) => f.timeout);
    const what = role === 'plain' ? 'worker' : role;
    if (this.d.config.mode === 'pd') this.d.metrics.pdError(`no_${what}_available`);
    const message = `no ${what} pod could serve the request (${ex.failures.length} tried: ${kinds.join(', ') || 'none'})`;
    return new RouterError(allTimeouts ? 'upstream_timeout' : 'upstream_error', message);
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
      requestId: ex.requestId,
      onFirstChunk: () => {
        firstChunkMs = performance.now();
        ex.rm.ttft.observe((firstChunkMs - ex.startedMs) / 1000);
      },
      abortCause: () => ex.abortCause,
    };
    const settle = (outcome: RelayOutcome) => {
      pods.release(answer.pod);
      if (firstChunkMs > 0) ex.rm.streamDuration.observe((performance.now() - firstChunkMs) / 1000);
      if (outcome.kind === 'client_closed') {
        ex.abort('client_closed');
        ex.rm.clientCancels.inc();
        metrics.requestError(ex.route, 'client_closed');
      } else if (outcome.kind === 'upstream_failed') {
        // A stream cut by our own total timeout says nothing about the pod's health.
        if (outcome.failure.kind !== 'request_timeout') pods.recordFailure(answer.pod, outcome.failure.kind);
        metrics.midStreamFailures.labels(answer.role).inc();
        answer.pod.metrics.streamErrors.inc();
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
      finish();
    };
    if (outgoing) {
      settle(await relayToNode(outgoing, answer.res, hooks));
      return RESPONSE_ALREADY_SENT;
    }
    return relayToWeb(answer.res, hooks, settle);
  }
}
