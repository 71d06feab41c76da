import {
  buildDecodeBody,
  buildPrefillBody,
  extractKvTransferParams,
  type PdRoute,
  PREFILL_KV_TRANSFER_PARAMS,
} from '@pdrouter/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Clock, OUTPUT_VOCABULARY, realClock, type SimFleet } from '../src/index.ts';
import {
  type CompletionJson,
  type ErrorJson,
  getText,
  metricValue,
  postJson,
  promptOf,
  sseData,
  startFleet,
  stopAll,
} from './helpers.ts';

afterEach(stopAll);

/** The prefill leg exactly as the router builds it (@pdrouter/core), from a client body. */
async function prefill(fleet: SimFleet, prompt: string, requestId: string, route: PdRoute = '/v1/completions') {
  const pod = fleet.prefill[0];
  if (!pod) throw new Error('no prefill pod');
  const client =
    route === '/v1/completions'
      ? { prompt, max_tokens: 50, stream: true, stream_options: { include_usage: true } }
      : { messages: [{ role: 'user', content: prompt }], max_completion_tokens: 50, stream: true };
  const res = await postJson(`${pod.url}${route}`, buildPrefillBody(route, client), { 'x-request-id': requestId });
  expect(res.status).toBe(200);
  const kv = extractKvTransferParams(res.json());
  if (kv === undefined) throw new Error(`prefill answered without kv_transfer_params: ${res.text}`);
  return kv;
}

/** The decode leg as the router builds it; `kv` undefined sends the client body unchanged. */
async function decode(fleet: SimFleet, prompt: string, kv: Record<string, unknown> | undefined, stream = true) {
  const pod = fleet.decode[0];
  if (!pod) throw new Error('no decode pod');
  const client: Record<string, unknown> = { prompt, max_tokens: 4, ignore_eos: true, stream };
  const body = kv === undefined ? client : buildDecodeBody('/v1/completions', client, kv);
  const res = await postJson(`${pod.url}/v1/completions`, body);
  expect(res.status).toBe(200);
  return res;
}

describe('P/D round trip (NixlConnector semantics)', () => {
  it('prefill answers kv_transfer_params naming itself; decode pulls the blocks', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    const [p, d] = [fleet.prefill[0], fleet.decode[0]];
    if (!p || !d) throw new Error('fleet incomplete');
    const prompt = promptOf(40);
    const kv = await prefill(fleet, prompt, 'rid-1');
    expect(kv).toEqual({
      do_remote_prefill: true,
      do_remote_decode: false,
      remote_block_ids: [expect.any(Number), expect.any(Number), expect.any(Number)],
      remote_engine_id: p.engineId,
      remote_request_id: 'cmpl-rid-1-0',
      remote_host: '127.0.0.1',
      remote_port: p.port,
      tp_size: 1,
    });
    expect(p.stats()).toMatchObject({ prefillRequests: 1, kvEntriesHeld: 1 });
    expect(p.stats().kvCacheUsage).toBeGreaterThan(0);

    const res = await decode(fleet, prompt, kv);
    const data = sseData(res.text);
    expect(data.at(-1)).toBe('[DONE]');
    expect(data).toHaveLength(5);
    expect(d.stats()).toMatchObject({ remotePrefillHits: 1, localPrefillFallbacks: 0, completed: 1 });
    expect(p.stats()).toMatchObject({ kvFetchesServed: 1, kvEntriesHeld: 0, kvCacheUsage: 0 });
    const metrics = (await getText(`${d.url}/metrics`)).text;
    expect(metricValue(metrics, 'vllm_sim:remote_prefill_hits_total')).toBe(1);
  });

  it('works for chat completions (remote_request_id is the chatcmpl id)', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    const kv = await prefill(fleet, 'what is a router', 'chat-7', '/v1/chat/completions');
    expect(kv.remote_request_id).toBe('chatcmpl-chat-7');
    const d = fleet.decode[0];
    if (!d) throw new Error('no decode pod');
    const res = await postJson(`${d.url}/v1/chat/completions`, {
      messages: [{ role: 'user', content: 'what is a router' }],
      max_tokens: 3,
      kv_transfer_params: kv,
    });
    expect(res.status).toBe(200);
    expect(d.stats().remotePrefillHits).toBe(1);
  });

  it('works for /v1/responses (max_output_tokens 1 on the prefill leg)', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    const [p, d] = [fleet.prefill[0], fleet.decode[0]];
    if (!p || !d) throw new Error('fleet incomplete');
    const client = { input: 'summarise the protocol', max_output_tokens: 5, stream: true };
    const pre = await postJson(`${p.url}/v1/responses`, buildPrefillBody('/v1/responses', client), {
      'x-request-id': 'resp-1',
    });
    expect(pre.status).toBe(200);
    const kv = extractKvTransferParams(pre.json());
    expect(kv?.remote_request_id).toBe('resp_resp-1');
    const res = await postJson(`${d.url}/v1/responses`, buildDecodeBody('/v1/responses', client, kv ?? {}));
    expect(res.status).toBe(200);
    expect(res.text).toContain('event: response.incomplete');
    expect(d.stats().remotePrefillHits).toBe(1);
  });

  it('rejects a streaming prefill request with a 400', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    const res = await postJson(`${fleet.prefill[0]?.url}/v1/completions`, {
      prompt: 'a b',
      stream: true,
      kv_transfer_params: PREFILL_KV_TRANSFER_PARAMS,
    });
    expect(res.status).toBe(400);
    expect((res.json() as ErrorJson).error.param).toBe('kv_transfer_params');
  });

  it('gives no kv_transfer_params when the prefill stopped on its own (not max-tokens capped)', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1, generation: { eosMinTokens: 2, eosMaxTokens: 3 } });
    const res = await postJson(`${fleet.prefill[0]?.url}/v1/completions`, {
      prompt: 'a b c',
      kv_transfer_params: PREFILL_KV_TRANSFER_PARAMS,
    });
    expect((res.json() as CompletionJson).kv_transfer_params).toBeNull();
  });

  it('gives no kv_transfer_params when a stop token or stop string ends the one-token prefill', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    const url = `${fleet.prefill[0]?.url}/v1/completions`;
    const client = { prompt: 'a b c', max_tokens: 20 };
    const plain = (await postJson(url, buildPrefillBody('/v1/completions', client))).json() as CompletionJson;
    expect(plain.choices[0]?.finish_reason).toBe('length');
    expect(plain.kv_transfer_params).not.toBeNull();
    const firstWord = plain.choices[0]?.text as string;
    const firstId = OUTPUT_VOCABULARY.indexOf(firstWord);
    for (const extra of [{ stop_token_ids: [firstId] }, { stop: [firstWord] }]) {
      const stopped = (
        await postJson(url, buildPrefillBody('/v1/completions', { ...client, ...extra }))
      ).json() as CompletionJson;
      expect(stopped.choices[0]?.finish_reason).toBe('stop');
      expect(stopped.kv_transfer_params).toBeNull();
    }
    // A stop token that is not the first one leaves the one-token prefill length-capped.
    const other = (
      await postJson(
        url,
        buildPrefillBody('/v1/completions', { ...client, stop_token_ids: [(firstId + 1) % OUTPUT_VOCABULARY.length] }),
      )
    ).json() as CompletionJson;
    expect(other.choices[0]?.finish_reason).toBe('length');
    expect(other.kv_transfer_params).not.toBeNull();
  });
});

describe('P/D failure paths: local prefill fallback, counted', () => {
  it('counts a decode request without kv_transfer_params as missing', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    await decode(fleet, 'no params here', undefined);
    const d = fleet.decode[0];
    expect(d?.stats()).toMatchObject({ localPrefillFallbacks: 1, remotePrefillHits: 0 });
    expect(d?.stats().fallbackReasons.missing).toBe(1);
    const metrics = (await getText(`${d?.url}/metrics`)).text;
    expect(metricValue(metrics, 'vllm_sim:local_prefill_fallbacks_total', 'reason="missing"')).toBe(1);
  });

  it('counts reused params as missing (the blocks were freed by the first pull)', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    const kv = await prefill(fleet, 'reuse me', 'r-2');
    await decode(fleet, 'reuse me', kv);
    await decode(fleet, 'reuse me', kv, false);
    expect(fleet.decode[0]?.stats()).toMatchObject({ remotePrefillHits: 1, localPrefillFallbacks: 1 });
    expect(fleet.decode[0]?.stats().fallbackReasons.missing).toBe(1);
  });

  it('counts params whose blocks passed their TTL as expired', async () => {
    // Wall time plus a jump made by the test: the TTL passes at once, not after a sleep.
    let jumpedMs = 0;
    const clock: Clock = { now: () => realClock.now() + jumpedMs, schedule: (ms, fn) => realClock.schedule(ms, fn) };
    const fleet = await startFleet({ prefill: 1, decode: 1, timing: { kvTtlMs: 30_000 }, clock });
    const kv = await prefill(fleet, 'too late', 'r-3');
    jumpedMs += 30_001;
    await decode(fleet, 'too late', kv);
    expect(fleet.decode[0]?.stats().fallbackReasons.expired).toBe(1);
    expect(fleet.prefill[0]?.stats().kvEntriesHeld).toBe(0);
  });

  it('counts a wrong remote_engine_id as wrong_engine, without consuming the blocks', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    const kv = await prefill(fleet, 'engine check', 'r-4');
    await decode(fleet, 'engine check', { ...kv, remote_engine_id: 'another-engine' });
    expect(fleet.decode[0]?.stats().fallbackReasons.wrong_engine).toBe(1);
    await decode(fleet, 'engine check', kv);
    expect(fleet.decode[0]?.stats().remotePrefillHits).toBe(1);
  });

  it('counts params of a restarted prefill pod as wrong_engine (new engine id, KV lost)', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    const p = fleet.prefill[0];
    if (!p) throw new Error('no prefill pod');
    const kv = await prefill(fleet, 'restart', 'r-5');
    const oldEngine = p.engineId;
    await p.stop();
    await p.start();
    expect(p.engineId).not.toBe(oldEngine);
    await decode(fleet, 'restart', kv);
    expect(fleet.decode[0]?.stats().fallbackReasons.wrong_engine).toBe(1);
  });

  it('counts an unreachable prefill pod as unreachable', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    const kv = await prefill(fleet, 'gone', 'r-6');
    await fleet.prefill[0]?.stop();
    await decode(fleet, 'gone', kv);
    expect(fleet.decode[0]?.stats().fallbackReasons.unreachable).toBe(1);
  });

  it('counts params of another prompt as prompt_mismatch', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    const kv = await prefill(fleet, 'the prefilled prompt', 'r-7');
    await decode(fleet, 'a different prompt', kv);
    expect(fleet.decode[0]?.stats().fallbackReasons.prompt_mismatch).toBe(1);
  });

  it('counts params without remote_host/port as missing', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    const kv = await prefill(fleet, 'partial', 'r-8');
    await decode(fleet, 'partial', { ...kv, remote_host: null });
    expect(fleet.decode[0]?.stats().fallbackReasons.missing).toBe(1);
  });
});
