import { describe, expect, it } from 'vitest';
import { classifyOutcome, prefillWithoutKv } from './outcome.ts';
import type { LegFailureKind } from './upstream-errors.ts';

const transport = (kind: LegFailureKind) =>
  classifyOutcome({ kind: 'transport', failure: { kind, timeout: false, message: kind } });
const status = (s: number) => classifyOutcome({ kind: 'status', status: s });
const prefill = (body: unknown, hasKvParams = false) => classifyOutcome({ kind: 'prefill_answer', body, hasKvParams });

describe('classifyOutcome', () => {
  it('puts connection failures on the network, and says whether anything reached the pod', () => {
    for (const kind of ['connect_refused', 'connect_timeout'] as const) {
      expect(transport(kind)).toMatchObject({ fault: 'network', health: 'failure', retry: true, reachedPod: false });
    }
    expect(transport('connection_reset')).toMatchObject({ fault: 'network', health: 'failure', reachedPod: true });
  });

  it("puts 5xx, stalls and garbage on the pod; a stall before headers trips the pod's circuit at once", () => {
    for (const s of [500, 502, 503, 504]) {
      expect(status(s)).toMatchObject({ fault: 'pod', health: 'failure', retry: true, reachedPod: true, trip: false });
    }
    expect(transport('first_byte_timeout')).toMatchObject({ fault: 'pod', health: 'failure', retry: true, trip: true });
    expect(transport('idle_timeout')).toMatchObject({ fault: 'pod', health: 'failure', trip: false });
    expect(transport('bad_prefill_response')).toMatchObject({ fault: 'pod', health: 'failure', retry: true });
  });

  it("never counts a client's error against the pod, and never walks on for it", () => {
    for (const s of [400, 401, 404, 413, 422]) {
      expect(status(s)).toMatchObject({ fault: 'client', health: 'success', retry: false });
    }
    expect(classifyOutcome({ kind: 'aborted', cause: 'client_closed' })).toMatchObject({
      fault: 'client',
      health: 'neutral',
      retry: false,
    });
  });

  it('retries a busy pod (408, 429) elsewhere without holding it against the pod', () => {
    for (const s of [408, 429]) expect(status(s)).toMatchObject({ fault: 'pod', health: 'neutral', retry: true });
  });

  it("keeps the router's own deadlines and errors off the pod", () => {
    expect(transport('request_timeout')).toMatchObject({ fault: 'router', health: 'neutral', retry: false });
    expect(transport('other')).toMatchObject({ fault: 'router', health: 'neutral' });
    expect(classifyOutcome({ kind: 'aborted', cause: 'request_timeout' })).toMatchObject({ fault: 'router' });
    expect(classifyOutcome({ kind: 'aborted', cause: 'draining' })).toMatchObject({ fault: 'router' });
  });

  it('a 2xx with headers and a prefill with kv params are successes', () => {
    expect(status(200)).toMatchObject({ fault: 'none', health: 'success', retry: false });
    expect(prefill({ choices: [{ finish_reason: 'length' }], kv_transfer_params: {} }, true)).toMatchObject({
      fault: 'none',
      health: 'success',
    });
  });

  it("a prefill the client's stop conditions ended is the client's fault; one capped without kv params is the pod's", () => {
    const stopped = { choices: [{ finish_reason: 'stop', text: 'x' }], kv_transfer_params: null };
    expect(prefill(stopped)).toMatchObject({ fault: 'client', health: 'success', retry: false });
    expect(prefillWithoutKv(stopped).kind).toBe('prefill_stopped_early');
    expect(prefillWithoutKv(stopped).message).toContain('finish_reason "stop"');
    // Chat completions have the same shape; /v1/responses says completed rather than stop.
    expect(prefill({ object: 'response', status: 'completed' })).toMatchObject({ fault: 'client' });
    for (const body of [
      { choices: [{ finish_reason: 'length' }] },
      { object: 'response', status: 'incomplete' },
      { choices: [] },
      { something: 'else' },
      undefined,
    ]) {
      expect(prefill(body)).toMatchObject({ fault: 'pod', health: 'failure', retry: true });
      expect(prefillWithoutKv(body).kind).toBe('bad_prefill_response');
    }
  });
});
