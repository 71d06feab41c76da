// Whose fault an upstream outcome is, decided in one place. The legs act on the verdict: only pod and
// network faults count against a pod's health (the circuit breaker), only they walk on to the next
// pod, and a client's fault is answered to the client as such. Pure: no I/O, no clock.
import type { AbortCause, LegFailure, LegFailureKind } from './upstream-errors.ts';

/** `router`: our own deadline or shutdown; `none`: the pod did what was asked. */
export type Fault = 'none' | 'client' | 'pod' | 'network' | 'router';

/** What the outcome means for the pod's circuit breaker. */
export type HealthEffect = 'success' | 'failure' | 'neutral';

export interface Verdict {
  readonly fault: Fault;
  readonly health: HealthEffect;
  /** Try the next pod of the walk. */
  readonly retry: boolean;
  /**
   * Some of the request may have reached the pod (false only when no connection was made): a decode
   * pod reached may have pulled, or freed, the prefill's KV blocks.
   */
  readonly reachedPod: boolean;
  /** Opens the pod's circuit at once instead of waiting for the failure threshold. */
  readonly trip: boolean;
}

export type Observation =
  /** No response headers: the connection failed or timed out. */
  | { readonly kind: 'transport'; readonly failure: LegFailure }
  /** The request's own signal fired (client gone, total timeout, shutdown). */
  | { readonly kind: 'aborted'; readonly cause: AbortCause }
  /** Response headers arrived with this status. */
  | { readonly kind: 'status'; readonly status: number }
  /** A 2xx prefill answer, parsed (`body` is the JSON value, or undefined when it was not JSON or too large). */
  | { readonly kind: 'prefill_answer'; readonly body: unknown; readonly hasKvParams: boolean };

const verdict = (fault: Fault, health: HealthEffect, retry: boolean, reachedPod = true, trip = false): Verdict =>
  Object.freeze({ fault, health, retry, reachedPod, trip });

const TRANSPORT: Readonly<Record<LegFailureKind, Verdict>> = Object.freeze({
  // Nothing reached the pod: the name did not resolve or the connection was refused or never set up.
  connect_refused: verdict('network', 'failure', true, false),
  connect_timeout: verdict('network', 'failure', true, false),
  // A pod that takes the request and says nothing until the first-byte timeout will do it to every
  // request sent meanwhile: its circuit opens on the first one.
  first_byte_timeout: verdict('pod', 'failure', true, true, true),
  idle_timeout: verdict('pod', 'failure', true),
  connection_reset: verdict('network', 'failure', true),
  status_5xx: verdict('pod', 'failure', true),
  status_overloaded: verdict('pod', 'neutral', true),
  bad_prefill_response: verdict('pod', 'failure', true),
  prefill_stopped_early: verdict('client', 'success', false),
  request_timeout: verdict('router', 'neutral', false),
  // An error undici gives for no pod's reason (an invalid argument of ours): not the pod's fault.
  other: verdict('router', 'neutral', true),
});

/** A pod's status line: 2xx is done, 4xx is the client's (408/429 excepted: the pod is busy). */
function ofStatus(status: number): Verdict {
  if (status < 400) return verdict('none', 'success', false);
  if (status === 408 || status === 429) return TRANSPORT.status_overloaded;
  if (status < 500) return verdict('client', 'success', false);
  return TRANSPORT.status_5xx;
}

export function classifyOutcome(o: Observation): Verdict {
  switch (o.kind) {
    case 'transport':
      return TRANSPORT[o.failure.kind];
    case 'aborted':
      return o.cause === 'client_closed' ? verdict('client', 'neutral', false) : verdict('router', 'neutral', false);
    case 'status':
      return ofStatus(o.status);
    case 'prefill_answer':
      if (o.hasKvParams) return verdict('none', 'success', false);
      return TRANSPORT[prefillWithoutKv(o.body).kind];
  }
}

/**
 * Why a 2xx prefill answer carries no kv_transfer_params. vLLM's NixlConnector returns them only for a
 * request that finished length-capped (its one token); a request the client's own stop conditions
 * ended on that token (stop_token_ids, stop strings, EOS) finishes "stop" and gets none: the client's
 * doing, and every other prefill pod would answer the same. Anything else means the pod runs without a
 * KV connector or answered garbage.
 */
export function prefillWithoutKv(body: unknown): LegFailure {
  const reason = finishReasonOf(body);
  if (reason === 'stop') {
    return {
      kind: 'prefill_stopped_early',
      timeout: false,
      message:
        'the prefill finished with finish_reason "stop" on its first token (a stop_token_ids/stop entry or end of sequence), so there is no KV cache to hand to a decode pod; in P/D mode the first token must not end the request',
    };
  }
  if (body === undefined) {
    return { kind: 'bad_prefill_response', timeout: false, message: 'prefill response is not a JSON object' };
  }
  return {
    kind: 'bad_prefill_response',
    timeout: false,
    message: `prefill response has no kv_transfer_params (finish_reason ${JSON.stringify(reason ?? null)}; is the pod running with a kv connector?)`,
  };
}

/** finish_reason of the first choice (completions, chat), or "stop" for a completed /v1/responses answer. */
function finishReasonOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as { choices?: unknown; object?: unknown; status?: unknown; incomplete_details?: unknown };
  if (Array.isArray(b.choices)) {
    const first = b.choices[0] as { finish_reason?: unknown } | undefined;
    return typeof first?.finish_reason === 'string' ? first.finish_reason : undefined;
  }
  if (b.object === 'response') {
    // A responses answer capped by max_output_tokens is "incomplete" (reason max_output_tokens).
    if (b.status === 'completed') return 'stop';
    if (b.status === 'incomplete') return 'length';
  }
  return undefined;
}
