// Outcomes that are the client's doing never count against a pod: a prefill its stop conditions end
// on the first token (vLLM's NixlConnector then returns no kv_transfer_params) is answered as a 400
// once, without walking the prefill ring or ejecting anyone. Real sim process, openai SDK client.
import { OUTPUT_VOCABULARY } from '@pdrouter/vllm-sim';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import { adminState, MODEL, metricValue, type RunningProxy, type SimProcess, scrape, sumStat } from './helpers.ts';

/** Every token id of the simulator's vocabulary: the first output token is always a stop token. */
const EVERY_TOKEN = OUTPUT_VOCABULARY.map((_, i) => i);

const e2e = e2eFixture();
let sim: SimProcess;
let router: RunningProxy;
let client: OpenAI;

beforeAll(async () => {
  sim = await e2e.sim({ prefill: 4, decode: 2 });
  // One failure would eject a pod: any outcome wrongly held against a pod shows at once.
  router = await e2e.pdProxy(sim, ['--cb-failure-threshold', '1']);
  client = new OpenAI({ baseURL: `${router.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

const ejected = async () => (await adminState<{ ejected: string[] }>(router.url)).ejected;

describe('a prefill ended early by the client', () => {
  it('is answered 400 once per request: one prefill leg, no failover, no ejection, no decode leg', async () => {
    const before = await sim.stats();
    const requests = 20;
    for (let i = 0; i < requests; i++) {
      const body = { model: MODEL, prompt: `story number ${i}`, max_tokens: 16, stop_token_ids: EVERY_TOKEN };
      const err = await client.completions.create(body as OpenAI.CompletionCreateParamsNonStreaming).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      const e = err as InstanceType<typeof OpenAI.BadRequestError>;
      expect(e.message).toContain('finish_reason "stop"');
      expect(e.param).toBe('stop_token_ids');
      expect((e.error as { type?: string }).type).toBe('invalid_request_error');
    }
    const after = await sim.stats();
    const prefills = sim.pods.filter((p) => p.role === 'prefill').map((p) => p.name);
    const decodes = sim.pods.filter((p) => p.role === 'decode').map((p) => p.name);
    expect(sumStat(after, 'prefillRequests', prefills) - sumStat(before, 'prefillRequests', prefills)).toBe(requests);
    expect(sumStat(after, 'requests', decodes) - sumStat(before, 'requests', decodes)).toBe(0);
    expect(await ejected()).toEqual([]);
    const text = await scrape(router.metricsUrl);
    expect(metricValue(text, 'pdrouter_failovers_total', { role: 'prefill' })).toBe(0);
    expect(metricValue(text, 'vllm_router_pd_errors_total', { error_type: 'prefill_prefill_stopped_early' })).toBe(
      requests,
    );

    // The same request with a stop string matching nothing it generates is served as usual.
    const ok = await client.completions.create({
      model: MODEL,
      prompt: 'story number 0',
      max_tokens: 4,
      stop: ['zzz'],
    });
    expect(ok.choices[0]?.text.length).toBeGreaterThan(0);
  });

  it('also for chat completions ended by a stop string', async () => {
    const before = await sim.stats();
    const err = await client.chat.completions
      .create({
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 8,
        stop: [...OUTPUT_VOCABULARY],
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const after = await sim.stats();
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('stop');
    expect(sumStat(after, 'prefillRequests') - sumStat(before, 'prefillRequests')).toBe(1);
    expect(await ejected()).toEqual([]);
  });
});
