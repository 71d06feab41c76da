// Admission control through a listening proxy: a pod that holds its decode streams until the test lets
// them go, so "N requests are in flight" is a fact. Over the limit a request waits in the queue; beyond
// the queue it gets 429 with Retry-After and an OpenAI-shaped body (the openai SDK sees a RateLimitError).
import type { IncomingMessage, ServerResponse } from 'node:http';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, scrape, waitFor } from './helpers.ts';
import { startTestProxy, type TestProxy } from './test-proxy.ts';

const MODEL = 'm';
const held: (() => void)[] = [];
let decodeLegs = 0;

/** Prefill legs answer at once with kv params; decode legs stream one event, then wait for release(). */
function pod(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    const kv = body.kv_transfer_params as Record<string, unknown> | undefined;
    if (kv?.do_remote_decode === true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'p',
          object: 'text_completion',
          choices: [{ index: 0, text: 'x', finish_reason: 'length' }],
          kv_transfer_params: { do_remote_prefill: true, remote_engine_id: 'e', remote_block_ids: [1] },
        }),
      );
      return;
    }
    decodeLegs++;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"id":"d","object":"text_completion","choices":[{"index":0,"text":"a"}]}\n\n');
    held.push(() => res.end('data: [DONE]\n\n'));
  });
}

function release(): void {
  for (const h of held.splice(0)) h();
}

function stream(url: string) {
  return request(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: 'hi', max_tokens: 4, stream: true }),
  });
}

describe('admission control through the proxy', () => {
  let fixture: TestProxy;
  beforeAll(async () => {
    fixture = await startTestProxy(pod, {
      flags: ['--max-concurrent-requests', '2', '--queue-size', '1', '--queue-timeout-secs', '30'],
      closePodConnections: true,
    });
  });
  afterAll(async () => {
    release();
    await fixture?.close();
  });

  it('runs two, queues one, refuses the fourth with 429 + Retry-After; the queued one runs when a slot frees', async () => {
    const first = [await stream(fixture.url), await stream(fixture.url)];
    await waitFor('two decode streams open', async () => (decodeLegs === 2 ? true : undefined));
    const queued = stream(fixture.url);
    await waitFor('one request queued', async () =>
      metricValue(await scrape(fixture.metricsUrl), 'pdrouter_admission_queue_depth') === 1 ? true : undefined,
    );
    const refused = await request(`${fixture.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'hi', max_tokens: 4 }),
    });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(await refused.body.json()).toMatchObject({ error: { type: 'rate_limit_error', code: 'rate_limited' } });
    const client = new OpenAI({ baseURL: `${fixture.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    await expect(client.completions.create({ model: MODEL, prompt: 'hi', max_tokens: 4 })).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
    expect(decodeLegs).toBe(2);

    release();
    for (const res of first) expect(await res.body.text()).toContain('[DONE]');
    await waitFor('the queued request reaches the pod', async () => (decodeLegs === 3 ? true : undefined));
    release();
    expect(await (await queued).body.text()).toContain('[DONE]');

    const metrics = await scrape(fixture.metricsUrl);
    expect(metricValue(metrics, 'pdrouter_admission_rejections_total', { reason: 'queue_full' })).toBe(2);
    expect(metricValue(metrics, 'pdrouter_admission_queue_wait_seconds_count')).toBe(1);
    expect(metricValue(metrics, 'pdrouter_admission_queue_depth')).toBe(0);
    expect(
      metricValue(metrics, 'vllm_router_request_errors_total', {
        route: '/v1/completions',
        error_type: 'rate_limited',
      }),
    ).toBe(2);
  });
});
