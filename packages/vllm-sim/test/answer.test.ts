import type OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { answerText, parseSimRequest } from '../src/index.ts';
import { openaiFor, startPod, stopAll } from './helpers.ts';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

afterEach(stopAll);

describe('answerText', () => {
  it('is what a pod answers a chat conversation with (ignore_eos), so a later turn can be rebuilt offline', async () => {
    const pod = await startPod();
    const client = openaiFor(pod.url);
    const messages = [
      { role: 'system' as const, content: 'kaba lelo mimu' },
      { role: 'user' as const, content: 'nona pupi' },
      { role: 'assistant' as const, content: 'the of and' },
      { role: 'user' as const, content: 'rata sesi tuvo' },
    ];
    const res = await client.chat.completions.create({
      model: MODEL,
      messages,
      max_completion_tokens: 9,
      ignore_eos: true,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const words = parseSimRequest('/v1/chat/completions', { messages }).promptWords;
    expect(res.choices[0]?.message.content).toBe(answerText(words, 9));
    // A different conversation gets a different answer (the offset follows the prompt's hash).
    expect(answerText([...words, 'x'], 9)).not.toBe(answerText(words, 9));
  });

  it('answers a completion prompt the same way', async () => {
    const pod = await startPod();
    const res = await openaiFor(pod.url).completions.create({
      model: MODEL,
      prompt: 'baba bebe bibi',
      max_tokens: 4,
      ignore_eos: true,
    } as OpenAI.CompletionCreateParamsNonStreaming);
    const words = parseSimRequest('/v1/completions', { prompt: 'baba bebe bibi' }).promptWords;
    expect(res.choices[0]?.text).toBe(answerText(words, 4));
  });
});
