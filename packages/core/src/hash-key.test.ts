import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { fbiHash, fbiHashBytes } from './fbi-hash.ts';
import { DEFAULT_PREFIX_BYTES, extractHashKey, type HeaderLookup, headerLookupFrom } from './hash-key.ts';
import { u64ToHex } from './u64.ts';

const none: HeaderLookup = () => undefined;
const vr = { mode: 'vllm-router' } as const;
const aff = { mode: 'affinity' } as const;
const hdrs = (h: Record<string, string>) => headerLookupFrom(h);

const regular = { mode: 'vllm-router', router: 'regular' } as const;
const vllmPd = { mode: 'vllm-router', router: 'vllm-pd' } as const;

describe('vllm-router mode key strings', () => {
  test('pd router (the default): headers are not consulted', () => {
    const body = { prompt: 'hi', user: 'alice' };
    expect(extractHashKey(hdrs({ 'x-session-id': 's1', 'x-request-id': 'r1' }), body, vr)).toBe('request:hi');
    expect(extractHashKey(hdrs({ 'x-request-id': 'r1' }), body, vr)).toBe(
      extractHashKey(hdrs({ 'x-request-id': 'r2' }), body, vr),
    );
  });

  test('regular and vllm-pd routers: headers first, in vllm-router order, empty values skipped', () => {
    const body = { prompt: 'hi', user: 'alice' };
    for (const options of [regular, vllmPd]) {
      expect(extractHashKey(hdrs({ 'X-Session-Id': 's1', 'x-request-id': 'r1' }), body, options)).toBe(
        'header:x-session-id:s1',
      );
      expect(extractHashKey(hdrs({ 'x-session-id': '', 'x-user-id': 'u1' }), body, options)).toBe(
        'header:x-user-id:u1',
      );
      expect(extractHashKey(hdrs({ 'x-tenant-id': 't1', 'x-correlation-id': 'c1' }), body, options)).toBe(
        'header:x-tenant-id:t1',
      );
      expect(extractHashKey(hdrs({ 'x-correlation-id': 'c1', 'x-request-id': 'r1' }), body, options)).toBe(
        'header:x-correlation-id:c1',
      );
      expect(extractHashKey(hdrs({ 'x-trace-id': 'tr', 'x-request-id': 'r1' }), body, options)).toBe(
        'header:x-request-id:r1',
      );
      expect(extractHashKey(hdrs({ 'x-trace-id': 'tr' }), body, options)).toBe('header:x-trace-id:tr');
    }
  });

  test('body fields are not read as JSON: only the routing text is scanned', () => {
    expect(extractHashKey(none, { user: 'alice', session_id: 's', prompt: 'hi' }, vr)).toBe('request:hi');
    expect(extractHashKey(none, { user_id: 456, prompt: 'hi' }, regular)).toBe('request:hi');
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

  test('completions prompt text: strings joined with a space, token ids as vllm-router spells them', () => {
    expect(extractHashKey(none, { prompt: ['first', 'second'] }, vr)).toBe('request:first second');
    expect(extractHashKey(none, { prompt: [1, 2, 3] }, vr)).toBe('request:token_ids:3');
    expect(extractHashKey(none, { prompt: [[1, 2], [3]] }, vr)).toBe('request:token_ids_batch:2:3');
    expect(extractHashKey(none, { prompt: [] }, vr)).toBe('request:token_ids_batch:0:0');
    expect(extractHashKey(none, { prompt: ['a', 1] }, vr)).toBe('request:');
    expect(extractHashKey(none, { prompt: [2 ** 31] }, vr)).toBe('request:');
  });

  test('chat: session_params.session_id is the text; without one, the conversation start (a divergence)', () => {
    const messages = [{ role: 'user', content: 'Explain what machine learning is in simple terms.' }];
    expect(extractHashKey(none, { messages, session_params: { session_id: 'stable' } }, vr)).toBe('request:stable');
    expect(extractHashKey(none, { messages, session_params: { session_id: '  ' } }, vr)).toBe(
      extractHashKey(none, { messages }, vr),
    );
    expect(extractHashKey(none, { messages }, vr)).toBe(extractHashKey(none, { messages }, aff));
    expect(extractHashKey(none, { messages: [{ role: 'assistant', content: 'x' }] }, vr)).toBe('request:');
  });

  test('vllm-pd router: the body serialised with sorted keys is scanned, then hashed', () => {
    const body = { prompt: 'hi', model: 'm' };
    expect(extractHashKey(none, body, vllmPd)).toBe('request:{"model":"m","prompt":"hi"}');
    expect(extractHashKey(none, { prompt: 'hi', user: 'bob' }, vllmPd)).toBe('user:bob');
    const long = { prompt: 'x'.repeat(200) };
    expect(extractHashKey(none, long, vllmPd)).toBe(`request_hash:${u64ToHex(fbiHash(JSON.stringify(long)))}`);
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
    expect(extractHashKey(throwing, { prompt: 'x' }, regular)).toBe('request:');
  });

  test('header lookups over Map and Headers', () => {
    expect(headerLookupFrom(new Map([['X-User-Id', 'u']]))('x-user-id')).toBe('u');
    expect(headerLookupFrom(new Headers({ 'X-User-Id': 'u' }))('x-user-id')).toBe('u');
    expect(headerLookupFrom({ 'x-a': ['1', '2'] })('x-a')).toBe('1, 2');
  });
});
