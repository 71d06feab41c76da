import { UsageError } from '@pdrouter/cli';
import { describe, expect, it } from 'vitest';
import { parseLoadgenArgs } from './config.ts';

describe('loadgen flags (vllm bench serve names)', () => {
  it('defaults as vLLM: openai, /v1/completions, 1000 prompts of 1024/128, inf rate', () => {
    const c = parseLoadgenArgs([]);
    expect(c.baseUrl).toBe('http://127.0.0.1:8000');
    expect(c.endpoint).toBe('/v1/completions');
    expect(c.numPrompts).toBe(1000);
    expect(c.randomInputLen).toBe(1024);
    expect(c.randomOutputLen).toBe(128);
    expect(c.requestRate).toBe(Number.POSITIVE_INFINITY);
    expect(c.requestIdPrefix).toMatch(/^bench-[0-9a-f]{8}-$/);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('parses goodput pairs, headers, repeated pod URLs and --input-len aliases', () => {
    const c = parseLoadgenArgs([
      '--goodput',
      'ttft:200',
      'tpot:50',
      '--header',
      'x-a=1',
      '--backend-mode',
      'oracle-pd',
      '--prefill',
      'http://p0/',
      '--prefill=http://p1',
      '--decode',
      'http://d0',
      '--input-len',
      '7',
      '--request-rate',
      '2.5',
    ]);
    expect(c.goodput).toEqual({ ttft: 200, tpot: 50 });
    expect(c.headers).toEqual({ 'x-a': '1' });
    expect(c.prefillUrls).toEqual(['http://p0', 'http://p1']);
    expect(c.randomInputLen).toBe(7);
    expect(c.requestRate).toBe(2.5);
  });

  it('reads vllm bench serve spellings: --num_prompts, --flag=value, space-separated lists', () => {
    const c = parseLoadgenArgs(['--num_prompts=5', '--metadata', 'a=1', 'b=2', '--save-result', '--request-rate=inf']);
    expect(c.numPrompts).toBe(5);
    expect(c.metadata).toEqual({ a: '1', b: '2' });
    expect(c.saveResult).toBe(true);
    expect(c.requestRate).toBe(Number.POSITIVE_INFINITY);
  });

  it('takes --round-robin-url replicas in order, the first one answering /v1/models', () => {
    const c = parseLoadgenArgs(['--round-robin-url', 'http://r0:8000/', '--round-robin-url', 'http://r1:8000']);
    expect(c.roundRobinUrls).toEqual(['http://r0:8000', 'http://r1:8000']);
    expect(c.baseUrl).toBe('http://r0:8000');
    expect(parseLoadgenArgs([]).roundRobinUrls).toEqual([]);
  });

  it('rejects bad input with a message naming the flag', () => {
    const bad: [string[], RegExp][] = [
      [['--num-prompts', 'x'], /--num-prompts/],
      [['--backend', 'tgi'], /--backend/],
      [['--goodput', 'foo:1'], /goodput metric/],
      [['--nope'], /unknown flag --nope/],
      [['--backend-mode', 'oracle-pd'], /--prefill/],
      [['--backend', 'openai-chat', '--endpoint', '/v1/completions'], /--endpoint/],
      [['--max-concurrency', '0'], /--max-concurrency/],
      [['--request-rate', 'fast'], /--request-rate must be > 0 or inf/],
      [['--extra-body', '[1]'], /--extra-body must be a JSON object/],
      [['--header', 'novalue'], /--header expects KEY=VALUE/],
      [['--round-robin-url', 'http://a', '--base-url', 'http://b'], /replaces --base-url/],
      [['--round-robin-url', 'http://a', '--backend-mode', 'oracle-plain', '--worker-url', 'http://w'], /direct/],
    ];
    for (const [argv, message] of bad) expect(() => parseLoadgenArgs(argv)).toThrow(message);
    expect(() => parseLoadgenArgs(['--seed'])).toThrow(UsageError);
  });
});
