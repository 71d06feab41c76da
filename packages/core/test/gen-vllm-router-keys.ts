// Writes fixtures/vllm-router-keys.json: requests with the key and the pod vllm-router picks for them,
// computed by the independent reference (vllm-router-key-reference.ts), never by src/.
//   node packages/core/test/gen-vllm-router-keys.ts
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RefRouter, refRingOwner, refVllmRouterKey } from './vllm-router-key-reference.ts';

export interface KeyVector {
  name: string;
  router: RefRouter;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  key: string;
  owner: string;
}

export const RING_URLS = [
  'http://10.0.0.1:8200',
  'http://10.0.0.2:8200',
  'http://10.0.0.3:8200',
  'http://10.0.0.4:8200',
];

// Pieces the text scan reacts to; random prompts are made of them.
const PIECES = [
  '"user"',
  "'user'",
  'user',
  '"user_id"',
  'user_id',
  '"session_id"',
  "'session_id'",
  'session_id',
  '"session_params"',
  'session_params',
  ':',
  ': ',
  ' ',
  '\u0085',
  '\u3000',
  '\t',
  '\n',
  '"',
  "'",
  '{',
  '}',
  ',',
  ']',
  'abc',
  'u-42',
  '€',
  '😀',
  'x'.repeat(40),
];

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fixedPrompts: [string, unknown][] = [
  ['short string', 'Hello, world'],
  ['exactly 100 bytes', 'y'.repeat(100)],
  ['101 bytes', 'y'.repeat(101)],
  ['34 euro signs (102 bytes)', '€'.repeat(34)],
  ['emoji', 'tell me about 😀 faces'],
  ['string array joined', ['first prompt', 'second prompt']],
  ['string array long', ['a'.repeat(60), 'b'.repeat(60)]],
  ['token ids', [1, 2, 3, 4]],
  [
    'token id batch',
    [
      [1, 2],
      [3, 4, 5],
    ],
  ],
  ['empty array', []],
  ['empty string', ''],
  ['mixed array (refused by vllm-router)', ['a', 1]],
  ['json-looking session_id', '{"session_id": "abc123", "x": 1}'],
  ['single-quoted user', "{'user': 'bob'}"],
  ['bare user', 'user: carol, hi'],
  ['nested session_params', '{"session_params": {"session_id": "n1"}}'],
  ['nested, bare child', '{"session_params": {session_id: n2}}'],
  ['user before colon-less mention', 'the user asked; user: dave'],
  ['unclosed quote falls to next pattern', 'user: "open and user_id: 7'],
  ['NEL before colon', 'user_id\u0085: u7'],
  ['ideographic space after colon', 'session_id:\u3000s9'],
  ['count only', '{"count": 42}'],
  ['colon with empty unquoted value', 'user:, user_id: 5'],
];

function main(): void {
  const vectors: KeyVector[] = [];
  const add = (name: string, router: RefRouter, headers: Record<string, string>, body: Record<string, unknown>) => {
    const key = refVllmRouterKey(router, headers, body);
    vectors.push({ name, router, headers, body, key, owner: refRingOwner(RING_URLS, key) });
  };
  const headers = { 'x-request-id': 'req-7f3a' };
  for (const [name, prompt] of fixedPrompts) {
    for (const router of ['pd', 'regular'] as const) add(`${router}: ${name}`, router, headers, { model: 'm', prompt });
  }
  add('pd: chat with session id', 'pd', headers, {
    messages: [{ role: 'user', content: 'hi' }],
    session_params: { session_id: 'stable-session' },
  });
  add(
    'regular: chat with session id, no headers',
    'regular',
    {},
    {
      messages: [{ role: 'user', content: 'hi' }],
      session_params: { session_id: 'user: ann' },
    },
  );
  add('vllm-pd: header wins', 'vllm-pd', { 'x-session-id': 's-1', 'x-request-id': 'r' }, { prompt: 'hi' });
  add('vllm-pd: small body verbatim', 'vllm-pd', {}, { prompt: 'hi', model: 'm' });
  add('vllm-pd: user field found in the serialised body', 'vllm-pd', {}, { prompt: 'hi', user: 'bob' });
  add('vllm-pd: nested session', 'vllm-pd', {}, { prompt: 'p', session_params: { session_id: 'z' } });
  add('vllm-pd: long body hashed', 'vllm-pd', {}, { prompt: 'q'.repeat(150), max_tokens: 8 });
  const random = prng(12);
  for (let i = 0; i < 150; i++) {
    const n = 1 + Math.floor(random() * 8);
    let prompt = '';
    for (let j = 0; j < n; j++) prompt += PIECES[Math.floor(random() * PIECES.length)];
    add(`random ${i}`, i % 3 === 0 ? 'regular' : 'pd', i % 2 === 0 ? headers : {}, { prompt });
  }
  // What `vllm bench serve` sends: a fresh x-request-id per request and a plain prompt.
  for (let i = 0; i < 30; i++) {
    add(
      `bench ${i}`,
      'pd',
      { 'x-request-id': `cmpl-${(i * 2654435761) >>> 0}` },
      {
        model: 'meta-llama/Llama-3.1-8B-Instruct',
        prompt: `Question ${i}: summarise the history of computing in ${10 + i} words.`,
        max_tokens: 128,
        stream: true,
      },
    );
  }
  const out = join(import.meta.dirname, 'fixtures/vllm-router-keys.json');
  writeFileSync(out, `${JSON.stringify({ ring: RING_URLS, vectors }, null, 1)}\n`);
  process.stdout.write(`wrote ${vectors.length} vectors to ${out}\n`);
}

if (import.meta.main) main();
