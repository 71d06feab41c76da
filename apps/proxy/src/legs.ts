// The legs of a request: the P/D flow (prefill walk, then decode walk with the prefill's kv params) and
// the plain walk. What an outcome means (whose fault, retry or not) is outcome.ts's verdict: a pod or
// network fault before the response headers walks on to the next pod (up to --retry-max-retries); a
// client's fault ends the walk.

import { buildPrefillBody, extractKvTransferParams, RouterError, type U64 } from '@pdrouter/core';
import type { ProxyConfig } from './config.ts';
import { decodeBodyOf, stopParamOf } from './decode-body.ts';
import type { Answer, Exchange, LegRole } from './exchange.ts';
import type { Logger } from './logger.ts';
import type { ProxyMetrics } from './metrics.ts';
import { classifyOutcome, prefillWithoutKv } from './outcome.ts';
import type { PodRegistry, PodState } from './pods.ts';
import { bodyJson } from './request-body.ts';
import type { RoutingTable } from './router-state.ts';
import type { Routing } from './routing.ts';
import type { LegTrace } from './tracing.ts';
import { readBodyText, UpstreamBodyTooLarge, type UpstreamResponse, type Upstreams } from './upstream.ts';
import { classifyUpstreamError, type LegFailure, RequestAborted } from './upstream-errors.ts';

export interface LegsDeps {
  config: ProxyConfig;
  pods: PodRegistry;
  upstreams: Upstreams;
  metrics: ProxyMetrics;
  logger: Logger;
  routing: Routing;
}

type LegResult = { ok: true; res: UpstreamResponse; trace?: LegTrace } | { ok: false; failure: LegFailure };

/**
 * Largest prefill answer read (one token plus kv_transfer_params: kilobytes, more with prompt_logprobs);
 * a pod answering more is faulty and is not buffered whole.
 */
export const MAX_PREFILL_RESPONSE_BYTES = 16 * 1024 * 1024;
/** How much of a pod's 5xx body is kept for the log. */
const ERROR_BODY_LOG_BYTES = 300;

export class Legs {
  private readonly d: LegsDeps;

  constructor(deps: LegsDeps) {
    this.d = deps;
  }

  checkMembers(table: RoutingTable | undefined): void {
    const roles: LegRole[] = this.d.config.mode === 'pd' ? ['prefill', 'decode'] : ['plain'];
    for (const role of roles) {
      if (!table || table.members[role].length === 0) {
        throw new RouterError('no_members', `no ${role === 'plain' ? 'worker' : role} pods are available`);
      }
    }
  }

  /** The P/D flow: prefill walk, then decode walk. `raw` is the client's body as received (`body` parsed). */
  async pd(
    ex: Exchange,
    table: RoutingTable,
    raw: Buffer,
    body: Record<string, unknown>,
    hash: U64 | undefined,
    /** The prefill leg's body when already serialised (off the event loop, for a large body). */
    prepared?: Buffer,
  ): Promise<Answer> {
    const { pods, metrics, config, logger, routing } = this.d;
    // Decode first: with no decode pod able to take the request, a prefill would only pin KV blocks on
    // the prefill pod until they expire.
    const decodePick = routing.pick('decode', table.rings.decode, hash, ex);
    const decodeOrder = this.limit(decodePick.order);
    if (decodeOrder.every((key) => pods.isEjected(key))) {
      metrics.pdError('no_decode_available');
      throw new RouterError(
        'no_members',
        `no decode pod can take the request (${decodeOrder.length} ejected after failures); prefill was not run`,
      );
    }
    // Selective P/D: decode-only by choice (counted), never the silent fallback below.
    const skip = routing.skipPrefill(ex, decodePick.decision);
    if (skip !== undefined) {
      metrics.prefillSkipped.labels(skip).inc();
      return this.walk(ex, table, 'decode', decodeOrder, raw);
    }
    const prefillBody = prepared ?? bodyJson(buildPrefillBody(ex.route, body));
    const prefillOrder = this.limit(routing.pick('prefill', table.rings.prefill, hash, ex).order);
    let kv: Record<string, unknown> | undefined;
    for (let i = 0; i < prefillOrder.length && kv === undefined; i++) {
      const pod = pods.get(prefillOrder[i] as string);
      if (i > 0) this.countFailover(ex, 'prefill');
      pod.metrics.prefillRequests.inc();
      pods.acquire(pod);
      let released = false;
      let legTrace: LegTrace | undefined;
      const release = () => {
        if (!released) {
          released = true;
          pods.release(pod);
        }
      };
      try {
        const r = await this.send(ex, table, pod.url, prefillBody, 'prefill', i, { 'accept-encoding': 'identity' });
        if (!r.ok) {
          this.legFailed(ex, pod, 'prefill', r.failure);
          continue;
        }
        legTrace = r.trace;
        const res = r.res;
        if (res.statusCode >= 400) {
          // The client's error (bad parameters, context too long...): theirs to see, as the pod wrote it.
          metrics.pdError('prefill_client_error');
          pods.record(pod, classifyOutcome({ kind: 'status', status: res.statusCode }), 'client_error');
          released = true;
          return { res, pod, role: 'prefill' };
        }
        let parsed: unknown;
        try {
          const bodyStartMs = performance.now();
          const text = await readBodyText(res.body, MAX_PREFILL_RESPONSE_BYTES);
          ex.upstreamWaitMs += performance.now() - bodyStartMs;
          parsed = JSON.parse(text);
        } catch (err) {
          if (ex.abortCause) throw new RequestAborted(ex.abortCause);
          const failure: LegFailure =
            err instanceof SyntaxError || err instanceof UpstreamBodyTooLarge
              ? {
                  kind: 'bad_prefill_response',
                  timeout: false,
                  message:
                    err instanceof SyntaxError
                      ? `prefill response is not JSON: ${err.message}`
                      : `prefill ${err.message}`,
                }
              : classifyUpstreamError(err);
          this.legFailed(ex, pod, 'prefill', failure);
          continue;
        }
        kv = extractKvTransferParams(parsed);
        if (kv === undefined) {
          // Never run decode without kv params because prefill answered something else: that would
          // silently prefill twice.
          const failure = prefillWithoutKv(parsed);
          const v = classifyOutcome({ kind: 'prefill_answer', body: parsed, hasKvParams: false });
          if (!v.retry) {
            // The client's own stop conditions ended it: every prefill pod would answer the same.
            pods.record(pod, v, failure.kind);
            metrics.pdError(`prefill_${failure.kind}`);
            throw new RouterError('invalid_request', failure.message, { param: stopParamOf(body) });
          }
          this.legFailed(ex, pod, 'prefill', failure);
          continue;
        }
        pods.record(pod, classifyOutcome({ kind: 'prefill_answer', body: parsed, hasKvParams: true }), 'ok');
        routing.learn('prefill', ex, pod.url);
        ex.prefillPod = pod.url;
      } finally {
        legTrace?.end({ kvTransferParams: kv !== undefined });
        release();
      }
    }

    let decodeBody: string | Buffer;
    if (kv === undefined) {
      if (!config.decodeOnlyFallback || ex.abortCause) throw this.exhausted(ex, 'prefill');
      metrics.decodeOnlyFallbacks.inc();
      metrics.pdError('decode_only_fallback');
      logger.warn('no prefill pod answered: decode-only fallback', {
        requestId: ex.requestId,
        failures: ex.failures.map((f) => f.kind),
      });
      decodeBody = raw;
    } else {
      decodeBody = decodeBodyOf(ex.route, raw, body, kv);
    }
    try {
      return await this.walk(ex, table, 'decode', decodeOrder, decodeBody, kv !== undefined);
    } catch (err) {
      // The prefill pod holds this request's KV blocks until a decode pod pulls them or they expire.
      if (kv !== undefined)
        metrics.kvLeftHeld.labels(err instanceof RequestAborted ? err.abortCause : 'no_decode').inc();
      throw err;
    }
  }

  /** One leg to one pod for a forwarded route: a decode pod in P/D mode (as vllm-router does), else a plain one. */
  one(ex: Exchange, table: RoutingTable, raw: Buffer, hash: U64 | undefined): Promise<Answer> {
    if (this.d.config.mode !== 'pd') return this.plain(ex, table, raw, hash);
    return this.walk(
      ex,
      table,
      'decode',
      this.limit(this.d.routing.pick('decode', table.rings.decode, hash, ex).order),
      raw,
    );
  }

  plain(ex: Exchange, table: RoutingTable, raw: Buffer, hash: U64 | undefined): Promise<Answer> {
    return this.walk(
      ex,
      table,
      'plain',
      this.limit(this.d.routing.pick('plain', table.rings.plain, hash, ex).order),
      raw,
    );
  }

  /** Sends `body` to the pods in order until one answers below 500. */
  private async walk(
    ex: Exchange,
    table: RoutingTable,
    role: 'decode' | 'plain',
    order: string[],
    body: string | Buffer,
    kvTransferParams = false,
  ): Promise<Answer> {
    const { pods } = this.d;
    for (let i = 0; i < order.length; i++) {
      const pod = pods.get(order[i] as string);
      if (i > 0) this.countFailover(ex, role);
      if (role === 'decode') pod.metrics.decodeRequests.inc();
      else pod.metrics.processed.inc();
      pods.acquire(pod);
      let r: LegResult;
      try {
        // A non-streaming answer only has headers once the whole generation is done: wait for it as
        // long as the request may last, never fail it over (that would run the generation twice).
        r = await this.send(
          ex,
          table,
          pod.url,
          body,
          role,
          i,
          undefined,
          ex.streaming ? undefined : this.d.config.timeouts.totalMs,
        );
      } catch (err) {
        // The request's own abort (client gone, total timeout): the leg is over.
        pods.release(pod);
        throw err;
      }
      if (!r.ok) {
        pods.release(pod);
        this.legFailed(ex, pod, role, r.failure);
        continue;
      }
      pods.record(pod, classifyOutcome({ kind: 'status', status: r.res.statusCode }), 'ok');
      if (r.res.statusCode < 400) this.d.routing.learn(role, ex, pod.url);
      r.trace?.end({ kvTransferParams: role === 'decode' && kvTransferParams });
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
    role: LegRole,
    attempt: number,
    extraHeaders?: Record<string, string>,
    headersTimeoutMs?: number,
  ): Promise<LegResult> {
    const member = table.byKey.get(key);
    let headers = extraHeaders ? { ...ex.headers, ...extraHeaders } : ex.headers;
    if (member?.dpRank !== undefined) headers = { ...headers, 'x-data-parallel-rank': String(member.dpRank) };
    const trace = ex.trace?.leg(role, key, attempt);
    if (trace) headers = { ...headers, ...trace.headers };
    let result: LegResult;
    try {
      result = await this.sendLeg(ex, member?.url ?? key, body, headers, headersTimeoutMs);
    } catch (err) {
      trace?.end({ failure: 'aborted' });
      throw err;
    }
    if (trace && !result.ok) trace.end({ failure: result.failure.kind });
    else if (trace && result.ok) {
      trace.status(result.res.statusCode);
      return { ...result, trace };
    }
    return result;
  }

  private async sendLeg(
    ex: Exchange,
    url: string,
    body: string | Buffer,
    headers: Record<string, string>,
    headersTimeoutMs: number | undefined,
  ): Promise<LegResult> {
    let res: UpstreamResponse;
    const sentMs = performance.now();
    try {
      res = await this.d.upstreams.request(url, {
        method: 'POST',
        path: ex.upstreamPath ?? ex.route,
        headers,
        body,
        signal: ex.signal,
        ...(headersTimeoutMs !== undefined ? { headersTimeoutMs } : {}),
      });
    } catch (err) {
      if (ex.abortCause) throw new RequestAborted(ex.abortCause);
      return { ok: false, failure: classifyUpstreamError(err) };
    } finally {
      ex.headersAtMs = performance.now();
      ex.upstreamWaitMs += ex.headersAtMs - sentMs;
    }
    if (classifyOutcome({ kind: 'status', status: res.statusCode }).retry) {
      // Read the pod's message for the log, and free the connection.
      let text = '';
      try {
        text = await readBodyText(res.body, ERROR_BODY_LOG_BYTES, { truncate: true });
      } catch {
        // The status is enough.
      }
      return {
        ok: false,
        failure: {
          kind: res.statusCode >= 500 ? 'status_5xx' : 'status_overloaded',
          timeout: res.statusCode === 504 || res.statusCode === 408,
          message: `HTTP ${res.statusCode}${text ? `: ${text}` : ''}`,
        },
      };
    }
    return { ok: true, res };
  }

  private legFailed(ex: Exchange, pod: PodState, role: LegRole, failure: LegFailure): void {
    const { pods, metrics, logger } = this.d;
    ex.failures.push(failure);
    pods.record(pod, classifyOutcome({ kind: 'transport', failure }), failure.kind);
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
}
