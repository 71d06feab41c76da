// The P/D flow (docs/design.md §2.5): a prefill walk that ends with the pod's kv_transfer_params, then a
// decode walk with them. A decode retry re-sends those params only when nothing reached the failed
// decode pod (no connection was made); a pod that got the request may have pulled, or freed, the
// prefill's KV blocks, so the retry gets a fresh prefill first.
import { buildPrefillBody, extractKvTransferParams, RouterError, type U64 } from '@pdrouter/core';
import { decodeBodyOf, stopParamOf } from './decode-body.ts';
import type { Answer, Exchange } from './exchange.ts';
import type { Legs } from './legs.ts';
import { classifyOutcome, prefillWithoutKv } from './outcome.ts';
import { bodyJson } from './request-body.ts';
import type { RoutingTable } from './router-state.ts';
import type { LegTrace } from './tracing.ts';
import { readBodyText, UpstreamBodyTooLarge } from './upstream.ts';
import { classifyUpstreamError, type LegFailure, RequestAborted } from './upstream-errors.ts';

/**
 * Largest prefill answer read (one token plus kv_transfer_params: kilobytes, more with prompt_logprobs);
 * a pod answering more is faulty and is not buffered whole.
 */
export const MAX_PREFILL_RESPONSE_BYTES = 16 * 1024 * 1024;

/** The P/D flow: prefill walk, then decode walk. `raw` is the client's body as received (`body` parsed). */
export async function runPd(
  legs: Legs,
  ex: Exchange,
  table: RoutingTable,
  raw: Buffer,
  body: Record<string, unknown>,
  hash: U64 | undefined,
  /** The prefill leg's body when already serialised (off the event loop, for a large body). */
  prepared?: Buffer,
): Promise<Answer> {
  const { pods, metrics, config, logger, routing } = legs.d;
  // Decode first: with no decode pod able to take the request, a prefill would only pin KV blocks on
  // the prefill pod until they expire.
  const decodePick = routing.pick('decode', table.rings.decode, hash, ex);
  const decodeOrder = legs.limit(decodePick.order);
  if (decodeOrder.every((key) => pods.isOut(key))) {
    metrics.pdError('no_decode_available');
    throw new RouterError(
      'no_members',
      `no decode pod can take the request (${decodeOrder.length} out after failures); prefill was not run`,
    );
  }
  // Selective P/D: decode-only by choice (counted), never the silent fallback below.
  const skip = routing.skipPrefill(ex, decodePick.decision);
  if (skip !== undefined) {
    metrics.prefillSkipped.labels(skip).inc();
    return legs.walk(ex, table, 'decode', decodeOrder, raw);
  }
  const prefillBody = prepared ?? bodyJson(buildPrefillBody(ex.route, body));
  const prefillOrder = legs.limit(routing.pick('prefill', table.rings.prefill, hash, ex).order);

  /** kv params from the prefill walk, or undefined for the decode-only fallback; throws otherwise. */
  const prefill = async (): Promise<Record<string, unknown> | undefined> => {
    const kv = await prefillWalk(legs, ex, table, prefillOrder, prefillBody, body);
    if (kv !== undefined) return kv;
    if (!config.decodeOnlyFallback || ex.abortCause) throw legs.exhausted(ex, 'prefill');
    metrics.decodeOnlyFallbacks.inc();
    metrics.pdError('decode_only_fallback');
    logger.warn('no prefill pod answered: decode-only fallback', {
      requestId: ex.requestId,
      failures: ex.failures.map((f) => f.kind),
    });
    return undefined;
  };

  // The chosen decode pod counts the request from the decision on, not from when its leg starts: a burst
  // of requests decided while their prefills run would otherwise all see the decode pods idle.
  const reserved = pods.get(decodeOrder[0] as string);
  pods.acquire(reserved);
  let kv: Record<string, unknown> | undefined;
  try {
    kv = await prefill();
  } catch (err) {
    if (err instanceof PrefillAnswered) return err.answer;
    throw err;
  } finally {
    pods.release(reserved);
  }
  let decodeBody: string | Buffer = kv === undefined ? raw : decodeBodyOf(ex.route, raw, body, kv);
  const beforeRetry = async (failure: LegFailure) => {
    if (kv === undefined) return;
    if (!classifyOutcome({ kind: 'transport', failure }).reachedPod) {
      metrics.decodeRetries.labels('same').inc();
      return;
    }
    // The failed pod may hold (or have freed) the blocks these params name: a fresh prefill for the
    // next pod, or it would silently prefill locally (or fail the pull).
    metrics.decodeRetries.labels('fresh_prefill').inc();
    metrics.kvLeftHeld.labels('decode_retry').inc();
    kv = await prefill();
    decodeBody = kv === undefined ? raw : decodeBodyOf(ex.route, raw, body, kv);
  };
  try {
    return await legs.walk(
      ex,
      table,
      'decode',
      decodeOrder,
      () => decodeBody,
      () => kv !== undefined,
      beforeRetry,
    );
  } catch (err) {
    // A fresh prefill's 4xx for a decode retry: the client's to see.
    if (err instanceof PrefillAnswered) return err.answer;
    // The prefill pod holds this request's KV blocks until a decode pod pulls them or they expire.
    if (kv !== undefined) metrics.kvLeftHeld.labels(err instanceof RequestAborted ? err.abortCause : 'no_decode').inc();
    throw err;
  }
}

/** Prefill legs along the walk until one answers with kv params; undefined when none did. */
async function prefillWalk(
  legs: Legs,
  ex: Exchange,
  table: RoutingTable,
  prefillOrder: readonly string[],
  prefillBody: string | Buffer,
  body: Record<string, unknown>,
): Promise<Record<string, unknown> | undefined> {
  const { pods, metrics } = legs.d;
  let kv: Record<string, unknown> | undefined;
  for (let i = 0; i < prefillOrder.length && kv === undefined; i++) {
    const pod = pods.get(prefillOrder[i] as string);
    if (i > 0) await legs.retry.beforeRetry(ex, 'prefill', i);
    pod.counters.prefillRequests++;
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
      const r = await legs.send(ex, table, pod.url, prefillBody, 'prefill', i, { 'accept-encoding': 'identity' });
      if (!r.ok) {
        legs.legFailed(ex, pod, 'prefill', r.failure);
        continue;
      }
      legTrace = r.trace;
      const res = r.res;
      if (res.statusCode >= 400) {
        // The client's error (bad parameters, context too long...): theirs to see, as the pod wrote it.
        metrics.pdError('prefill_client_error');
        pods.record(pod, classifyOutcome({ kind: 'status', status: res.statusCode }), 'client_error');
        released = true;
        throw new PrefillAnswered({ res, pod, role: 'prefill' });
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
        legs.legFailed(ex, pod, 'prefill', failure);
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
        legs.legFailed(ex, pod, 'prefill', failure);
        continue;
      }
      pods.record(pod, classifyOutcome({ kind: 'prefill_answer', body: parsed, hasKvParams: true }), 'ok');
      legs.d.routing.learn('prefill', ex, pod.url);
      ex.prefillPod = pod.url;
    } finally {
      legTrace?.end({ kvTransferParams: kv !== undefined });
      release();
    }
  }
  return kv;
}

/** A prefill pod's 4xx: the answer the client gets, carried out of the walk. */
export class PrefillAnswered extends Error {
  readonly answer: Answer;
  constructor(answer: Answer) {
    super('prefill answered the client');
    this.answer = answer;
  }
}
