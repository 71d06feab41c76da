import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { fbiHash, fbiHashBytes } from './fbi-hash.ts';
import { DEFAULT_PREFIX_BYTES, extractHashKey, type HeaderLookup, headerLookupFrom } from './hash-key.ts';
import { u64ToHex } from './u64.ts';

const none: HeaderLookup = () => undefined;
const vr = { mode: 'vllm-router' } as const;
const aff = { mode: 'affinity' } as const;
const hdrs = (h: Record<string, string>) => headerLookupFrom(h);

describe('vllm-router mode key strings', () => {
  test('headers, in vllm-router order, empty values skipped', () => {
    const body = { prompt: 'hi', user: 'alice' };
    expect(extractHashKey(hdrs({ 'X-Session-Id': 's1', 'x-request-id': 'r1' }), body, vr)).toBe(
      'header:x-session-id:s1',
    );
    expect(extractHashKey(hdrs({ 'x-session-id': '', 'x-user-id': 'u1' }), body, vr)).toBe('header:x-user-id:u1');
    expect(extractHashKey(hdrs({ 'x-tenant-id': 't1', 'x-correlation-id': 'c1' }), body, vr)).toBe(
      'header:x-tenant-id:t1',
    );
    expect(extractHashKey(hdrs({ 'x-correlation-id': 'c1', 'x-request-id': 'r1' }), body, vr)).toBe(
      'header:x-correlation-id:c1',
    );
    expect(extractHashKey(hdrs({ 'x-trace-id': 'tr', 'x-request-id': 'r1' }), body, vr)).toBe('header:x-request-id:r1');
    expect(extractHashKey(hdrs({ 'x-trace-id': 'tr' }), body, vr)).toBe('header:x-trace-id:tr');
  });

  test('body fields: session_params.session_id, user, session_id, user_id', () => {
    expect(
      extractHashKey(none, { session_params: { session_id: 'nested' }, session_id: 'direct', user: 'u' }, vr),
    ).toBe('session:nested');
    expect(extractHashKey(none, { user: 'alice', session_id: 's', prompt: 'hi' }, vr)).toBe('user:alice');
    expect(extractHashKey(none, { session_id: 'legacy123', user_id: 'x', prompt: 'hi' }, vr)).toBe('session:legacy123');
    expect(extractHashKey(none, { user_id: 456, prompt: 'hi' }, vr)).toBe('user:456');
  });

  test('short and long text', () => {
    expect(extractHashKey(none, { prompt: 'short' }, vr)).toBe('request:short');
    const hundred = 'x'.repeat(100);
    expect(extractHashKey(none, { prompt: hundred }, vr)).toBe(`request:${hundred}`);
    const long = 'x'.repeat(101);
    expect(extractHashKey(none, { prompt: long }, vr)).toBe(`request_hash:${u64ToHex(fbiHash(long))}`);
    // 34 three-byte characters are 102 bytes but only 34 code units: still hashed.
    const wide = '€'.repeat(34);
    expect(extractHashKey(none, { prompt: wide }, vr)).toBe(`request_hash:${u64ToHex(fbiHash(wide))}`);
    expect(extractHashKey(none, { prompt: '€'.repeat(33) }, vr)).toBe(`request:${'€'.repeat(33)}`);
  });

  test('routing text: prompt string or first array item; chat first message', () => {
    expect(extractHashKey(none, { prompt: ['first', 'second'] }, vr)).toBe('request:first');
    expect(extractHashKey(none, { prompt: [1, 2, 3] }, vr)).toBe('request:');
    const chat = { messages: [{ role: 'user', content: 'Explain what machine learning is in simple terms.' }] };
    expect(extractHashKey(none, chat, vr)).toBe('request:Explain what machine learning is in simple terms.');
    const withSystem = {
      messages: [
        {
          role: 'system',
          content: [
            { type: 'text', text: 'Be brief.' },
            { type: 'text', text: 'Be kind.' },
          ],
        },
        { role: 'user', content: 'hello' },
      ],
    };
    expect(extractHashKey(none, withSystem, vr)).toBe('request:Be brief. Be kind.');
    // vllm-router ignores a first user message made of content parts.
    expect(extractHashKey(none, { messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }] }, vr)).toBe(
      'request:',
    );
    expect(extractHashKey(none, { messages: [{ role: 'assistant', content: 'x' }] }, vr)).toBe('request:');
  });

  test('the prompt text is scanned for session/user fields as vllm-router does', () => {
    expect(extractHashKey(none, { prompt: '{"session_id": "abc123", "x": 1}' }, vr)).toBe('session:abc123');
    expect(extractHashKey(none, { prompt: "{'user': 'bob'}" }, vr)).toBe('user:bob');
    expect(extractHashKey(none, { prompt: 'user: carol, hi' }, vr)).toBe('user:carol');
    expect(extractHashKey(none, { prompt: '{"session_params": {"session_id": "n1"}}' }, vr)).toBe('session:n1');
    expect(extractHashKey(none, { prompt: '{"count": 42}' }, vr)).toBe('request:{"count": 42}');
  });

  test('a JSON string body is parsed; anything else falls back to request:', () => {
    expect(extractHashKey(none, '{"prompt":"hi"}', vr)).toBe('request:hi');
    expect(extractHashKey(none, 'not json', vr)).toBe('request:');
    expect(extractHashKey(none, null, vr)).toBe('request:');
    expect(extractHashKey(none, [1, 2], vr)).toBe('request:');
  });
});

describe('affinity mode', () => {
  test('ignores per-request ids', () => {
    const body = { prompt: 'p' };
    const key = extractHashKey(hdrs({ 'x-request-id': 'r1', 'x-trace-id': 't1' }), body, aff);
    expect(key).toBe(extractHashKey(hdrs({ 'x-request-id': 'r2' }), body, aff));
    expect(key.startsWith('prefix:')).toBe(true);
    expect(extractHashKey(hdrs({ 'x-request-id': 'r1', 'x-session-id': 's' }), body, aff)).toBe(
      'header:x-session-id:s',
    );
  });

  test('session and user fields first', () => {
    expect(extractHashKey(none, { user: 'alice', messages: [{ role: 'user', content: 'x' }] }, aff)).toBe('user:alice');
  });

  test('chat: system + first user message, whatever follows', () => {
    const turn1 = {
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Plan a trip' }] },
      ],
    };
    const turn3 = {
      messages: [...turn1.messages, { role: 'assistant', content: 'Where to?' }, { role: 'user', content: 'Lisbon' }],
    };
    const key = extractHashKey(none, turn1, aff);
    expect(key).toBe(`conversation:${u64ToHex(fbiHash('You are terse.\nPlan a trip'))}`);
    expect(extractHashKey(none, turn3, aff)).toBe(key);
    expect(extractHashKey(none, { messages: [{ role: 'user', content: 'Plan a trip' }] }, aff)).not.toBe(key);
  });

  test('completions: a prompt prefix cut on a character boundary', () => {
    const shared = 'a'.repeat(DEFAULT_PREFIX_BYTES);
    const k1 = extractHashKey(none, { prompt: `${shared} first` }, aff);
    expect(extractHashKey(none, { prompt: `${shared} second` }, aff)).toBe(k1);
    expect(k1).toBe(`prefix:${u64ToHex(fbiHash(shared))}`);
    // 3-byte characters: 10 bytes hold three of them, never a partial fourth.
    const euro = extractHashKey(none, { prompt: '€€€€€' }, { mode: 'affinity', prefixBytes: 10 });
    expect(euro).toBe(`prefix:${u64ToHex(fbiHashBytes(new TextEncoder().encode('€€€')))}`);
    expect(extractHashKey(none, { prompt: [[1, 2, 3]] }, aff)).toBe(`prefix:${u64ToHex(fbiHash('1,2,3'))}`);
  });

  test('responses: instructions + first input message, or the input string', () => {
    const body = { instructions: 'sys', input: [{ role: 'user', content: [{ type: 'input_text', text: 'q' }] }] };
    expect(extractHashKey(none, body, aff)).toBe(`conversation:${u64ToHex(fbiHash('sys\nq'))}`);
    expect(extractHashKey(none, { input: 'hello' }, aff)).toBe(`prefix:${u64ToHex(fbiHash('hello'))}`);
  });
});

describe('robustness', () => {
  test('never throws, whatever the body and headers', () => {
    fc.assert(
      fc.property(
        fc.anything(),
        fc.constantFrom<'vllm-router' | 'affinity'>('vllm-router', 'affinity'),
        (body, mode) => {
          expect(typeof extractHashKey(none, body, { mode })).toBe('string');
          expect(typeof extractHashKey(none, { messages: [body], prompt: body, user: body }, { mode })).toBe('string');
        },
      ),
      { numRuns: 300 },
    );
    const throwing: HeaderLookup = () => {
      throw new Error('boom');
    };
    expect(extractHashKey(throwing, { prompt: 'x' }, vr)).toBe('request:');
  });

  test('header lookups over Map and Headers', () => {
    expect(headerLookupFrom(new Map([['X-User-Id', 'u']]))('x-user-id')).toBe('u');
    expect(headerLookupFrom(new Headers({ 'X-User-Id': 'u' }))('x-user-id')).toBe('u');
    expect(headerLookupFrom({ 'x-a': ['1', '2'] })('x-a')).toBe('1, 2');
  });
});
