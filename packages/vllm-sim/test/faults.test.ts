import { waitUntilSteady } from '@pdrouter/testkit';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ErrorJson,
  getText,
  metricValue,
  postJson,
  startPod,
  stopAll,
  WAIT_DEADLINE_MS,
  waitFor,
} from './helpers.ts';

afterEach(stopAll);

const STREAM_BODY = { prompt: 'stream me', max_tokens: 10, ignore_eos: true, stream: true };

/** Starts a streaming request and returns a reader over its data payloads. */
async function openStream(url: string, body: unknown, signal?: AbortSignal) {
  const res = await request(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    headersTimeout: WAIT_DEADLINE_MS,
    bodyTimeout: WAIT_DEADLINE_MS,
    ...(signal ? { signal } : {}),
  });
  const payloads: string[] = [];
  let buffer = '';
  const done = (async () => {
    for await (const chunk of res.body) {
      buffer += (chunk as Buffer).toString('utf8');
      let i = buffer.indexOf('\n\n');
      while (i !== -1) {
        payloads.push(buffer.slice(6, i));
        buffer = buffer.slice(i + 2);
        i = buffer.indexOf('\n\n');
      }
    }
  })();
  done.catch(() => {});
  return { status: res.statusCode, payloads, done, body: res.body };
}

describe('error injection', () => {
  it('answers injected 429/500/503 with vLLM error bodies, counted, switchable at runtime', async () => {
    const pod = await startPod({ faults: { errorRate503: 1 } });
    const res = await postJson(`${pod.url}/v1/completions`, { prompt: 'a' });
    expect(res.status).toBe(503);
    expect((res.json() as ErrorJson).error).toMatchObject({ type: 'ServiceUnavailableError', code: 503 });
    pod.setFaults({ errorRate503: 0, errorRate429: 1 });
    expect((await postJson(`${pod.url}/v1/completions`, { prompt: 'a' })).status).toBe(429);
    pod.setFaults({ errorRate429: 0, errorRate500: 1 });
    expect((await postJson(`${pod.url}/v1/completions`, { prompt: 'a' })).status).toBe(500);
    pod.setFaults({ errorRate500: 0 });
    expect((await postJson(`${pod.url}/v1/completions`, { prompt: 'a', max_tokens: 1 })).status).toBe(200);
    expect(pod.stats().injectedErrors).toEqual({ '429': 1, '500': 1, '503': 1 });
    const metrics = (await getText(`${pod.url}/metrics`)).text;
    expect(metricValue(metrics, 'vllm_sim:injected_errors_total', 'status="503"')).toBe(1);
  });

  it('draws partial error rates deterministically from the seed', async () => {
    const statuses = async (seed: number) => {
      const pod = await startPod({ seed, faults: { errorRate500: 0.5 }, timing: { zeroDelay: true } });
      const out: number[] = [];
      for (let i = 0; i < 40; i++)
        out.push((await postJson(`${pod.url}/v1/completions`, { prompt: 'a', max_tokens: 1 })).status);
      await pod.stop();
      return out;
    };
    const a = await statuses(3);
    expect(a).toContain(500);
    expect(a).toContain(200);
    expect(await statuses(3)).toEqual(a);
    expect(await statuses(4)).not.toEqual(a);
  });
});

describe('pod down and slow start', () => {
  it('refuses connections when stopped and serves again on the same port after start', async () => {
    const pod = await startPod();
    const port = pod.port;
    await pod.stop();
    await expect(postJson(`${pod.url}/v1/completions`, { prompt: 'a' })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    await pod.start();
    expect(pod.port).toBe(port);
    expect((await postJson(`${pod.url}/v1/completions`, { prompt: 'a', max_tokens: 1 })).status).toBe(200);
  });

  it('is not ready (503 on /health and inference) during a slow start', async () => {
    const pod = await startPod({ faults: { notReadyMs: 60_000 } });
    expect((await getText(`${pod.url}/health`)).status).toBe(503);
    const res = await postJson(`${pod.url}/v1/completions`, { prompt: 'a' });
    expect(res.status).toBe(503);
    expect(pod.stats().ready).toBe(false);
    pod.setFaults({ notReadyMs: 0 });
    expect((await getText(`${pod.url}/health`)).status).toBe(200);
    expect(pod.stats().ready).toBe(true);
  });
});

describe('stalls, drops and cancellation', () => {
  it('stalls before headers until the client gives up, then counts the cancel', async () => {
    const pod = await startPod({ faults: { stallBeforeHeadersMs: -1 } });
    await expect(
      request(`${pod.url}/v1/completions`, {
        method: 'POST',
        body: JSON.stringify({ prompt: 'a' }),
        headersTimeout: 300,
      }),
    ).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });
    await waitFor('the cancel to be counted', () => pod.stats().cancelled === 1);
  });

  it('stalls mid-stream after N tokens; a client abort cancels the sequence', async () => {
    const pod = await startPod({ faults: { stallAfterTokens: 3 } });
    const abort = new AbortController();
    const s = await openStream(pod.url, STREAM_BODY, abort.signal);
    await waitFor('3 tokens', () => s.payloads.length >= 3);
    await waitFor('the sequence to sit out of the batch', () => pod.stats().running === 1);
    expect(s.payloads).toHaveLength(3);
    abort.abort();
    await waitFor('the cancel', () => pod.stats().cancelled === 1 && pod.stats().running === 0);
    expect(pod.stats().completed).toBe(0);
  });

  it('resumes a timed mid-stream stall and finishes the stream', async () => {
    const pod = await startPod({ faults: { stallAfterTokens: 2, stallMs: 50 } });
    const s = await openStream(pod.url, STREAM_BODY);
    await s.done;
    expect(s.payloads.at(-1)).toBe('[DONE]');
    expect(s.payloads).toHaveLength(11);
  });

  it('drops the connection after N tokens without finishing the response', async () => {
    const pod = await startPod({ faults: { dropAfterTokens: 2 } });
    const s = await openStream(pod.url, STREAM_BODY);
    await expect(s.done).rejects.toThrow();
    expect(s.payloads).toHaveLength(2);
    await waitFor('the drop to be counted', () => pod.stats().dropped === 1);
    expect(pod.stats()).toMatchObject({ cancelled: 0, completed: 0, running: 0 });
  });

  it('cancels the sequence when a client disconnects mid-stream', async () => {
    const pod = await startPod();
    const abort = new AbortController();
    const s = await openStream(pod.url, { ...STREAM_BODY, max_tokens: 30_000 }, abort.signal);
    expect(s.status).toBe(200);
    await waitFor('some tokens', () => s.payloads.length >= 2);
    abort.abort();
    await waitFor('the cancel', () => pod.stats().cancelled === 1 && pod.stats().running === 0);
    expect((await getText(`${pod.url}/metrics`)).text).toContain('vllm_sim:cancelled_total{pod="plain-0"} 1.0');
  });

  it('respects backpressure: a client that stops reading stops its sequence', async () => {
    const pod = await startPod({ timing: { zeroDelay: true }, generation: { maxModelLen: 2_000_000 } });
    const res = await request(`${pod.url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ prompt: 'flood', max_tokens: 1_000_000, ignore_eos: true, stream: true }),
      headersTimeout: WAIT_DEADLINE_MS,
    });
    expect(res.statusCode).toBe(200);
    // Nothing reads the body: once socket buffers fill, the sequence pauses instead of buffering.
    await waitFor('a backpressure pause', () => pod.stats().backpressurePauses > 0);
    const before = pod.stats().generationTokens;
    // Paused, the sequence stops making tokens (unthrottled, a zero-delay stream makes tens of thousands a
    // second and never holds still for 200 ms); what it made after the first pause fits in socket buffers.
    const after = await waitUntilSteady(() => pod.stats().generationTokens, {
      steadyMs: 200,
      description: 'the paused sequence to stop making tokens',
    });
    expect(after - before).toBeLessThan(2_000);
    expect(pod.stats().running).toBe(1);
    res.body.destroy();
    await waitFor('the cancel', () => pod.stats().cancelled === 1 && pod.stats().running === 0);
  });
});

describe('robustness', () => {
  it('rejects invalid fault values with a clear error', async () => {
    const pod = await startPod();
    expect(() => pod.setFaults({ errorRate500: 1.5 })).toThrow("fault 'errorRate500' must be between 0 and 1");
    expect(() => pod.setFaults({ bogus: 1 } as never)).toThrow("unknown fault 'bogus'");
    expect(pod.stats().faults.errorRate500).toBe(0);
  });

  it('answers a malformed URL with a 400 and keeps serving', async () => {
    const pod = await startPod();
    expect((await getText(`${pod.url}/sim/kv/%E0%A4%A`)).status).toBe(400);
    expect((await getText(`${pod.url}/health`)).status).toBe(200);
  });

  it('does not count streams cut by the pod stopping as client cancellations', async () => {
    const pod = await startPod();
    const s = await openStream(pod.url, { ...STREAM_BODY, max_tokens: 30_000 });
    await waitFor('some tokens', () => s.payloads.length >= 2);
    await pod.stop();
    await expect(s.done).rejects.toThrow();
    // stop() resolved after every connection's close handler ran: a miscount would be there by now.
    expect(pod.stats().cancelled).toBe(0);
  });
});

describe('latency spikes', () => {
  it('slows steps when switched on at runtime', async () => {
    const pod = await startPod({ timing: { stepBaseMs: 0.1, stepPerSeqMs: 0, prefillPerTokenMs: 0 } });
    pod.setFaults({ latencySpikeRate: 1, latencySpikeMs: 1 });
    await postJson(`${pod.url}/v1/completions`, { prompt: 'a', max_tokens: 5, ignore_eos: true });
    expect(pod.stats().latencySpikes).toBe(5);
  });
});
