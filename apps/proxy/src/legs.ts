// The legs of a request: the walks along a ring (decode, plain) and one leg to one pod; the P/D flow
// that strings a prefill and a decode leg together is pd-flow.ts. What an outcome means (whose fault,
// retry or not) is outcome.ts's verdict: a pod or network fault before the response headers walks on to
// the next pod (up to --retry-max-retries attempts, with retry-policy.ts's delays); a client's fault ends
// the walk.

import { RouterError, type U64 } from '@pdrouter/core';
import type { ProxyConfig } from './config.ts';
import type { Answer, Exchange, LegRole } from './exchange.ts';
import type { Logger } from './logger.ts';
import type { ProxyMetrics } from './metrics.ts';
import { classifyOutcome } from './outcome.ts';
import type { PodRegistry, PodState } from './pods.ts';
import { RetryPolicy } from './retry-policy.ts';
import type { RoutingTable } from './router-state.ts';
import type { Routing } from './routing.ts';
import type { LegTrace } from './tracing.ts';
import { readBodyText, type UpstreamResponse, type Upstreams } from './upstream.ts';
import { classifyUpstreamError, type LegFailure, RequestAborted } from './upstream-errors.ts';

export interface LegsDeps {
  config: ProxyConfig;
  pods: PodRegistry;
  upstreams: Upstreams;
  metrics: ProxyMetrics;
  logger: Logger;
  routing: Routing;
}

export type LegResult = { ok: true; res: UpstreamResponse; trace?: LegTrace } | { ok: false; failure: LegFailure };

/** How much of a pod's 5xx body is kept for the log. */
const ERROR_BODY_LOG_BYTES = 300;

/** A walk's body: fixed, or rebuilt per attempt (a decode retry after a fresh prefill carries new kv params). */
export type WalkBody = string | Buffer | (() => string | Buffer);

/**
 * Runs between a failed attempt and the next one of a walk (after the retry delay): may change what the
 * next attempt sends, or throw to end the walk.
 */
export type BeforeRetry = (failure: LegFailure) => Promise<void>;

export class Legs {
  readonly d: LegsDeps;
  readonly retry: RetryPolicy;

  constructor(deps: LegsDeps) {
    this.d = deps;
    this.retry = new RetryPolicy(deps.config.retry, deps.metrics);
  }

  checkMembers(table: RoutingTable | undefined): void {
    const roles: LegRole[] = this.d.config.mode === 'pd' ? ['prefill', 'decode'] : ['plain'];
    for (const role of roles) {
      if (!table || table.members[role].length === 0) {
        throw new RouterError('no_members', `no ${role === 'plain' ? 'worker' : role} pods are available`);
      }
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
  async walk(
    ex: Exchange,
    table: RoutingTable,
    role: 'decode' | 'plain',
    order: string[],
    body: WalkBody,
    kvTransferParams: () => boolean = () => false,
    beforeRetry?: BeforeRetry,
  ): Promise<Answer> {
    const { pods } = this.d;
    let last: LegFailure | undefined;
    for (let i = 0; i < order.length; i++) {
      const pod = pods.get(order[i] as string);
      if (i > 0) {
        await this.retry.beforeRetry(ex, role, i);
        if (beforeRetry && last) await beforeRetry(last);
      }
      if (role === 'decode') pod.counters.decodeRequests++;
      else pod.counters.processed++;
      pods.acquire(pod);
      let r: LegResult;
      try {
        // A non-streaming answer only has headers once the whole generation is done: wait for it as
        // long as the request may last, never fail it over (that would run the generation twice).
        r = await this.send(
          ex,
          table,
          pod.url,
          typeof body === 'function' ? body() : body,
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
        last = r.failure;
        continue;
      }
      pods.record(pod, classifyOutcome({ kind: 'status', status: r.res.statusCode }), 'ok');
      if (r.res.statusCode < 400) this.d.routing.learn(role, ex, pod.url);
      r.trace?.end({ kvTransferParams: role === 'decode' && kvTransferParams() });
      return { res: r.res, pod, role };
    }
    throw this.exhausted(ex, role);
  }

  /**
   * One leg to one pod (`key` is its ring key: the URL, or url@rank for a data-parallel rank, which
   * goes to the URL with vLLM's X-data-parallel-rank header). Pod faults come back as failures; the
   * request's own abort is thrown.
   */
  async send(
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

  legFailed(ex: Exchange, pod: PodState, role: LegRole, failure: LegFailure): void {
    const { pods, metrics, logger } = this.d;
    ex.failures.push(failure);
    pods.record(pod, classifyOutcome({ kind: 'transport', failure }), failure.kind);
    if (role === 'prefill') pod.counters.prefillErrors++;
    else if (role === 'decode') pod.counters.decodeErrors++;
    if (role !== 'plain') metrics.pdError(`${role}_${failure.kind}`);
    logger.warn('leg failed', {
      requestId: ex.requestId,
      role,
      pod: pod.url,
      kind: failure.kind,
      error: failure.message,
    });
  }

  limit(order: string[]): string[] {
    return this.retry.limit(order);
  }

  exhausted(ex: Exchange, role: LegRole): RouterError {
    if (ex.failures.length > 0) this.retry.exhausted(ex);
    const kinds = ex.failures.map((f) => f.kind);
    const allTimeouts = ex.failures.length > 0 && ex.failures.every((f) => f.timeout);
    const what = role === 'plain' ? 'worker' : role;
    if (this.d.config.mode === 'pd') this.d.metrics.pdError(`no_${what}_available`);
    const message = `no ${what} pod could serve the request (${ex.failures.length} tried: ${kinds.join(', ') || 'none'})`;
    return new RouterError(allTimeouts ? 'upstream_timeout' : 'upstream_error', message);
  }
}
