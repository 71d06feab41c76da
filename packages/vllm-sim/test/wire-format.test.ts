import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { countTokens } from '../src/index.ts';
import {
  type ChunkJson,
  type CompletionJson,
  type ErrorJson,
  getText,
  openaiFor,
  postJson,
  promptOf,
  sseData,
  startPod,
  stopAll,
} from './helpers.ts';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

/** The keys a vLLM completion and chat completion body both start with, in vLLM's order. */
const RESPONSE_LEADING_KEYS = [
  'id',
  'object',
  'created',
  'model',
  'choices',
  'service_tier',
  'system_fingerprint',
  'usage',
];

/** The first choice of a raw completion body or chunk. */
function firstChoice(body: Record<string, unknown>): Record<string, unknown> {
  return (body.choices as Record<string, unknown>[])[0] as Record<string, unknown>;
}

afterEach(stopAll);

describe('/v1/completions', () => {
  it('answers a non-streaming request with vLLM CompletionResponse fields (openai SDK)', async () => {
    const pod = await startPod();
    const client = openaiFor(pod.url);
    const before = Math.floor(Date.now() / 1000);
    const prompt = promptOf(40);
    const res = await client.completions.create(
      { model: MODEL, prompt, max_tokens: 7, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming,
      { headers: { 'X-Request-Id': 'req-1' } },
    );
    expect(res.id).toBe('cmpl-req-1');
    expect(res.object).toBe('text_completion');
    expect(res.model).toBe(MODEL);
    expect(res.created).toBeGreaterThanOrEqual(before);
    expect(res.choices).toHaveLength(1);
    const choice = res.choices[0] as OpenAI.CompletionChoice & { stop_reason: unknown };
    expect(choice.index).toBe(0);
    expect(countTokens(choice.text)).toBe(7);
    expect(choice.finish_reason).toBe('length');
    expect(choice.logprobs).toBeNull();
    expect(choice.stop_reason).toBeNull();
    expect(res.usage).toEqual({
      prompt_tokens: 40,
      completion_tokens: 7,
      total_tokens: 47,
      prompt_tokens_details: null,
    });
  });

  it('has exactly vLLM key sets, echoes X-Request-Id, and sends kv_transfer_params null', async () => {
    const pod = await startPod();
    const res = await postJson(
      `${pod.url}/v1/completions`,
      { prompt: 'a b c', max_tokens: 2, ignore_eos: true },
      { 'x-request-id': 'xyz' },
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-request-id']).toBe('xyz');
    const body = res.json() as Record<string, unknown>;
    expect(Object.keys(body)).toEqual([...RESPONSE_LEADING_KEYS, 'kv_transfer_params']);
    expect(body.kv_transfer_params).toBeNull();
    const choice = firstChoice(body);
    expect(Object.keys(choice)).toEqual([
      'index',
      'text',
      'logprobs',
      'finish_reason',
      'stop_reason',
      'token_ids',
      'prompt_logprobs',
      'prompt_token_ids',
    ]);
  });

  it('streams one token per chunk, a usage chunk with include_usage, then [DONE]', async () => {
    const pod = await startPod();
    const res = await postJson(
      `${pod.url}/v1/completions`,
      {
        model: MODEL,
        prompt: promptOf(10),
        max_tokens: 5,
        ignore_eos: true,
        stream: true,
        stream_options: { include_usage: true },
      },
      { 'x-request-id': 'stream-1' },
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const data = sseData(res.text);
    expect(data).toHaveLength(7);
    expect(data[6]).toBe('[DONE]');
    const chunks = data.slice(0, 6).map((d) => JSON.parse(d) as Record<string, unknown>);
    let text = '';
    for (const [i, c] of chunks.slice(0, 5).entries()) {
      expect(Object.keys(c)).toEqual(['id', 'object', 'created', 'model', 'choices']);
      expect(c.id).toBe('cmpl-stream-1');
      expect(c.object).toBe('text_completion');
      expect(c.model).toBe(MODEL);
      const choice = firstChoice(c);
      expect(Object.keys(choice)).toEqual([
        'index',
        'text',
        'logprobs',
        'finish_reason',
        'stop_reason',
        'prompt_token_ids',
        'token_ids',
      ]);
      expect(choice.finish_reason).toBe(i === 4 ? 'length' : null);
      expect(countTokens(choice.text as string)).toBe(1);
      text += choice.text as string;
    }
    expect(countTokens(text)).toBe(5);
    const usage = chunks[5] as Record<string, unknown>;
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toEqual({ prompt_tokens: 10, total_tokens: 15, completion_tokens: 5 });
    expect(usage.id).toBe('cmpl-stream-1');
  });

  it('streams through the openai SDK; no usage chunk without stream_options', async () => {
    const pod = await startPod();
    const stream = await openaiFor(pod.url).completions.create({
      model: MODEL,
      prompt: 'hello there',
      max_tokens: 4,
      stream: true,
      ignore_eos: true,
    } as OpenAI.CompletionCreateParamsStreaming);
    const chunks: OpenAI.Completion[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks).toHaveLength(4);
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.finish_reason)).toEqual([null, null, null, 'length']);
  });

  it('adds per-chunk usage with continuous_usage_stats', async () => {
    const pod = await startPod();
    const res = await postJson(`${pod.url}/v1/completions`, {
      prompt: 'x y',
      max_tokens: 3,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: false, continuous_usage_stats: true },
    });
    const chunks = sseData(res.text)
      .slice(0, -1)
      .map((d) => JSON.parse(d) as { usage?: unknown });
    expect(chunks.map((c) => c.usage)).toEqual([
      { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3 },
      { prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 },
      { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 },
    ]);
  });

  it('stops at a deterministic natural length when ignore_eos is false', async () => {
    const pod = await startPod({ generation: { eosMinTokens: 3, eosMaxTokens: 9 } });
    const prompt = promptOf(20, 'natural');
    const a = (await postJson(`${pod.url}/v1/completions`, { prompt, max_tokens: 100 })).json() as CompletionJson;
    const b = (await postJson(`${pod.url}/v1/completions`, { prompt, max_tokens: 100 })).json() as CompletionJson;
    expect(a.choices[0]?.finish_reason).toBe('stop');
    expect(a.usage.completion_tokens).toBeGreaterThanOrEqual(3);
    expect(a.usage.completion_tokens).toBeLessThanOrEqual(9);
    expect(b.choices[0]?.text).toBe(a.choices[0]?.text);
    const streamed = sseData(
      (await postJson(`${pod.url}/v1/completions`, { prompt, max_tokens: 100, stream: true })).text,
    );
    const last = JSON.parse(streamed.at(-2) as string) as ChunkJson;
    expect(last.choices[0]?.finish_reason).toBe('stop');
    expect(streamed).toHaveLength(a.usage.completion_tokens + 1);
    const capped = (await postJson(`${pod.url}/v1/completions`, { prompt, max_tokens: 2 })).json() as CompletionJson;
    expect(capped.choices[0]?.finish_reason).toBe('length');
    expect(capped.usage.completion_tokens).toBe(2);
    const min = (
      await postJson(`${pod.url}/v1/completions`, { prompt, max_tokens: 100, min_tokens: 50 })
    ).json() as CompletionJson;
    expect(min.usage.completion_tokens).toBe(50);
  });

  it('reports cached prompt tokens with enable-prompt-tokens-details', async () => {
    const pod = await startPod({ generation: { promptTokensDetails: true } });
    const prompt = promptOf(40, 'cached');
    const first = (await postJson(`${pod.url}/v1/completions`, { prompt, max_tokens: 1 })).json() as CompletionJson;
    expect(first.usage).toMatchObject({ prompt_tokens_details: { cached_tokens: 0 } });
    const res = await postJson(`${pod.url}/v1/completions`, {
      prompt,
      max_tokens: 2,
      stream: true,
      stream_options: { include_usage: true },
    });
    const usage = JSON.parse(sseData(res.text).at(-2) as string) as { usage: unknown };
    // 40 tokens: two full 16-token blocks come from the prefix cache.
    expect(usage.usage).toEqual({
      prompt_tokens: 40,
      total_tokens: 42,
      completion_tokens: 2,
      prompt_tokens_details: { cached_tokens: 32 },
    });
  });

  it('counts a token-id prompt by its ids', async () => {
    const pod = await startPod();
    const body = (
      await postJson(`${pod.url}/v1/completions`, { prompt: [1, 2, 3, 4], max_tokens: 1 })
    ).json() as CompletionJson;
    expect(body.usage.prompt_tokens).toBe(4);
  });
});

describe('/v1/chat/completions', () => {
  it('answers with a chat.completion and an assistant message (openai SDK)', async () => {
    const pod = await startPod();
    const res = await openaiFor(pod.url).chat.completions.create(
      {
        model: MODEL,
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: [{ type: 'text', text: 'hello model' }] },
        ],
        max_tokens: 50,
        max_completion_tokens: 6,
        ignore_eos: true,
      } as OpenAI.ChatCompletionCreateParamsNonStreaming,
      { headers: { 'x-request-id': 'chat-1' } },
    );
    expect(res.id).toBe('chatcmpl-chat-1');
    expect(res.object).toBe('chat.completion');
    const choice = res.choices[0] as OpenAI.ChatCompletion.Choice;
    expect(choice.message.role).toBe('assistant');
    expect(countTokens(choice.message.content ?? '')).toBe(6);
    expect(choice.finish_reason).toBe('length');
    // Prompt rule: one token per role plus the content's words.
    expect(res.usage?.prompt_tokens).toBe(1 + 2 + 1 + 2);
    expect(res.usage?.completion_tokens).toBe(6);
  });

  it('has exactly vLLM key sets in a non-streaming chat body', async () => {
    const pod = await startPod();
    const res = await postJson(`${pod.url}/v1/chat/completions`, {
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
    });
    const body = res.json() as Record<string, unknown>;
    expect(Object.keys(body)).toEqual([
      ...RESPONSE_LEADING_KEYS,
      'prompt_logprobs',
      'prompt_token_ids',
      'kv_transfer_params',
    ]);
    const choice = firstChoice(body);
    expect(Object.keys(choice)).toEqual(['index', 'message', 'logprobs', 'finish_reason', 'stop_reason', 'token_ids']);
    expect(Object.keys(choice.message as object)).toEqual([
      'role',
      'content',
      'refusal',
      'annotations',
      'audio',
      'function_call',
      'reasoning',
    ]);
  });

  it('streams a role chunk first, content deltas, usage, then [DONE]', async () => {
    const pod = await startPod();
    const res = await postJson(`${pod.url}/v1/chat/completions`, {
      messages: [{ role: 'user', content: 'one two three' }],
      max_tokens: 3,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
    });
    const data = sseData(res.text);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as ChunkJson);
    expect(chunks).toHaveLength(1 + 3 + 1);
    expect(chunks[0]?.object).toBe('chat.completion.chunk');
    expect(chunks[0]?.choices[0]).toEqual({
      index: 0,
      delta: { role: 'assistant', content: '' },
      logprobs: null,
      finish_reason: null,
    });
    expect(chunks[1]?.choices[0]).toEqual({
      index: 0,
      delta: { content: expect.any(String) },
      logprobs: null,
      finish_reason: null,
    });
    expect(chunks[3]?.choices[0]?.finish_reason).toBe('length');
    expect(chunks[3]?.choices[0]?.stop_reason).toBeNull();
    expect(chunks[4]?.choices).toEqual([]);
    expect(chunks[4]?.usage).toEqual({ prompt_tokens: 4, total_tokens: 7, completion_tokens: 3 });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
  });

  it('streams through the openai SDK', async () => {
    const pod = await startPod();
    const stream = await openaiFor(pod.url).chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      max_completion_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
      ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsStreaming);
    let content = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(countTokens(content)).toBe(5);
    expect(usage?.completion_tokens).toBe(5);
  });
});

describe('/v1/responses', () => {
  it('answers non-streaming and streaming requests (openai SDK)', async () => {
    const pod = await startPod();
    const client = openaiFor(pod.url);
    const res = await client.responses.create({ model: MODEL, input: 'tell me', max_output_tokens: 4 });
    expect(res.object).toBe('response');
    expect(res.status).toBe('incomplete');
    expect(countTokens(res.output_text)).toBe(4);
    expect(res.usage?.input_tokens).toBe(3);
    const stream = await client.responses.create({
      model: MODEL,
      input: 'tell me',
      max_output_tokens: 3,
      stream: true,
    });
    const types: string[] = [];
    let text = '';
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
    }
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.incomplete');
    expect(types.filter((t) => t === 'response.output_text.delta')).toHaveLength(3);
    expect(countTokens(text)).toBe(3);
  });
});

describe('errors and auxiliary endpoints', () => {
  it('answers vLLM-shaped 400s for bad requests', async () => {
    const pod = await startPod({ generation: { maxModelLen: 50 } });
    const cases: [unknown, RegExp][] = [
      [{ prompt: promptOf(60) }, /maximum context length is 50 tokens\. However, your request has 60 input tokens/],
      [{ prompt: promptOf(10), max_tokens: 41 }, /'max_tokens' or 'max_completion_tokens' is too large: 41/],
      ['{not json', /not valid JSON/],
      [{ max_tokens: 3 }, /Either prompt or prompt_embeds must be provided/],
      [
        { prompt: 'a', stream_options: { include_usage: true } },
        /Stream options can only be defined when `stream=True`/,
      ],
      [{ prompt: 'a', max_tokens: 0 }, /'max_tokens' must be at least 1/],
      [{ prompt: 'a', max_tokens: 'ten' }, /'max_tokens' must be an integer/],
      [{ prompt: 'a', max_tokens: 2, min_tokens: 3 }, /min_tokens must be less than or equal to max_tokens=2, got 3/],
      [[1, 2], /must be a JSON object/],
    ];
    for (const [body, message] of cases) {
      const res = await postJson(`${pod.url}/v1/completions`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const err = res.json() as { error: Record<string, unknown> };
      expect(Object.keys(err)).toEqual(['error']);
      expect(err.error.type).toBe('BadRequestError');
      expect(err.error.code).toBe(400);
      expect(err.error).toHaveProperty('param');
      expect(err.error.message).toMatch(message);
    }
    expect(pod.stats().rejected).toBe(cases.length);
    await expect(openaiFor(pod.url).completions.create({ model: MODEL, prompt: promptOf(60) })).rejects.toBeInstanceOf(
      OpenAI.BadRequestError,
    );
  });

  it('answers 404 for an unknown model and path, 405 for a wrong method', async () => {
    const pod = await startPod();
    const res = await postJson(`${pod.url}/v1/completions`, { model: 'other', prompt: 'a' });
    expect(res.status).toBe(404);
    expect((res.json() as ErrorJson).error).toEqual({
      message: 'The model `other` does not exist.',
      type: 'NotFoundError',
      param: 'model',
      code: 404,
    });
    expect((await getText(`${pod.url}/nope`)).status).toBe(404);
    expect((await getText(`${pod.url}/v1/completions`)).status).toBe(405);
  });

  it('serves /health and /v1/models', async () => {
    const pod = await startPod({ generation: { maxModelLen: 4096 } });
    expect(await getText(`${pod.url}/health`)).toEqual({ status: 200, text: '' });
    const models = await openaiFor(pod.url).models.list();
    const card = models.data[0] as OpenAI.Model & { max_model_len: number; root: string };
    expect(models.data).toHaveLength(1);
    expect(card.id).toBe(MODEL);
    expect(card.object).toBe('model');
    expect(card.owned_by).toBe('vllm');
    expect(card.root).toBe(MODEL);
    expect(card.max_model_len).toBe(4096);
  });
});
