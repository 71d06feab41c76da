// The P/D flow through app.request() (no client socket: the Web Response relay) against in-process
// simulated pods, which are real HTTP servers.
import { waitUntil } from '@pdrouter/testkit';
import { type SimFleet, startSimFleet } from '@pdrouter/vllm-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from './config.ts';
import { parseFlags } from './flags.ts';
import { createProxy, type ProxyInstance } from './proxy.ts';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
let fleet: SimFleet;
let proxy: ProxyInstance;

const sum = (key: 'remotePrefillHits' | 'localPrefillFallbacks' | 'prefillRequests' | 'cancelled') =>
  fleet.pods.reduce((acc, p) => acc + (p.stats()[key] as number), 0);

function post(body: Record<string, unknown>, init: RequestInit = {}) {
  return proxy.app.request('/v1/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-id': String(body.session ?? 'flow') },
    body: JSON.stringify({ model: MODEL, prompt: 'Explain what machine learning is in simple terms.', ...body }),
    ...init,
  });
}

beforeAll(async () => {
  fleet = await startSimFleet({ prefill: 2, decode: 2 });
  const argv = [
    '--pd-disaggregation',
    ...fleet.prefill.flatMap((p) => ['--prefill', p.url]),
    ...fleet.decode.flatMap((d) => ['--decode', d.url]),
  ];
  proxy = await createProxy(buildConfig(parseFlags(argv)), { defaultMetrics: false });
  await proxy.start();
});

afterAll(async () => {
  await proxy?.close();
  await fleet?.close();
});

describe('P/D flow in-process (Web Response relay)', () => {
  it('answers a non-streaming completion after a remote prefill', async () => {
    const before = sum('remotePrefillHits');
    const res = await post({ max_tokens: 6 });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await res.json()) as { choices: { text: string }[] };
    expect(body.choices[0]?.text.length).toBeGreaterThan(0);
    expect(sum('remotePrefillHits') - before).toBe(1);
    expect(sum('localPrefillFallbacks')).toBe(0);
  });

  it('streams SSE events ending with [DONE]', async () => {
    const res = await post({ max_tokens: 5, stream: true });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.length).toBe(6);
  });

  it('ends a stream whose decode pod dies with an SSE error event', async () => {
    for (const d of fleet.decode) d.setFaults({ dropAfterTokens: 2 });
    try {
      const res = await post({ max_tokens: 30, stream: true, session: 'drop' });
      const text = await res.text();
      expect(text).toContain('data: {"error":');
      expect(text).not.toContain('[DONE]');
    } finally {
      for (const d of fleet.decode) d.setFaults({ dropAfterTokens: -1 });
    }
  });

  it('cancels the decode leg when the caller aborts the stream', async () => {
    for (const d of fleet.decode) d.setFaults({ stallAfterTokens: 1, stallMs: 0 });
    try {
      const before = sum('cancelled');
      const res = await post({ max_tokens: 30, stream: true, session: 'abort' });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      await reader.cancel();
      await waitUntil(() => sum('cancelled') > before, {
        timeoutMs: 5000,
        intervalMs: 20,
        description: 'the decode pod to see the cancel',
      });
    } finally {
      for (const d of fleet.decode) d.setFaults({ stallAfterTokens: -1 });
    }
  });
});
