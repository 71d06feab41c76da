import { describe, expect, test } from 'vitest';
import { prefixKey, prefixKeyOfPieces } from './prefix-index.ts';
import {
  estimatePromptTokens,
  estimatePromptTokensOfChars,
  prefixRoutingPieces,
  prefixRoutingText,
} from './routing-text.ts';

describe('prefixRoutingText', () => {
  test('chat: the whole conversation in order, so a later turn extends the earlier one', () => {
    const turn1 = {
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      ],
    };
    const turn2 = {
      messages: [...turn1.messages, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'More?' }],
    };
    const t1 = prefixRoutingText(turn1) as string;
    const t2 = prefixRoutingText(turn2) as string;
    expect(t1).toBe('system: Be brief.\nuser: Hi');
    expect(t2.startsWith(t1)).toBe(true);
    expect(t2).toBe('system: Be brief.\nuser: Hi\nassistant: Hello!\nuser: More?');
  });

  test('responses: instructions first, string or item input; completions: the prompt', () => {
    expect(prefixRoutingText({ instructions: 'Sys', input: 'Q' })).toBe('system: Sys\nuser: Q');
    expect(prefixRoutingText({ input: [{ type: 'message', role: 'user', content: 'Q' }] })).toBe('user: Q');
    expect(prefixRoutingText({ prompt: 'Once upon' })).toBe('Once upon');
    expect(prefixRoutingText({ prompt: [1, 2, 3] })).toBe('1,2,3');
    expect(prefixRoutingText({ messages: [] })).toBeUndefined();
    expect(prefixRoutingText({ messages: [42, null] })).toBeUndefined();
    expect(prefixRoutingText({})).toBeUndefined();
  });
});

describe('estimatePromptTokens', () => {
  test('token ids count exactly; text counts one token per 4 characters, rounded up', () => {
    expect(estimatePromptTokens({ prompt: [5, 6, 7] }, '5,6,7')).toBe(3);
    expect(estimatePromptTokens({ prompt: [[5, 6]] }, '5,6')).toBe(2);
    expect(estimatePromptTokens({ prompt: 'abcdefghi' }, 'abcdefghi')).toBe(3);
    expect(estimatePromptTokens({}, undefined)).toBe(0);
  });
});

describe('prefixKeyOfPieces over prefixRoutingPieces', () => {
  test('the same key and length as hashing the joined routing text, for every body shape', () => {
    const long = 'word '.repeat(30_000);
    const bodies: Record<string, unknown>[] = [
      {
        messages: [
          { role: 'system', content: 'Be brief. '.repeat(40) },
          { role: 'user', content: 'hi' },
        ],
      },
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'a' },
              { type: 'text', text: 'b' },
            ],
          },
          'bare',
        ],
      },
      { input: 'just a string', instructions: 'rules '.repeat(30) },
      { input: [{ type: 'message', content: 'x' }], instructions: '' },
      { prompt: 'a completions prompt '.repeat(20) },
      { prompt: [[1, 2, 3]] },
      {
        messages: [
          { role: 'user', content: long },
          { role: 'assistant', content: long },
        ],
      },
      { messages: [] },
      {},
    ];
    for (const body of bodies) {
      const text = prefixRoutingText(body);
      const pieces = prefixRoutingPieces(body);
      expect(pieces?.join('')).toBe(text);
      const viaPieces = prefixKeyOfPieces(pieces ?? []);
      expect(viaPieces.key).toEqual(prefixKey(text ?? ''));
      expect(viaPieces.textChars).toBe(text?.length ?? 0);
      expect(estimatePromptTokensOfChars(body, pieces === undefined ? undefined : viaPieces.textChars)).toBe(
        estimatePromptTokens(body, text),
      );
    }
  });
});
