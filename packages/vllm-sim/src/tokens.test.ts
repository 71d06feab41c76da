import { describe, expect, it } from 'vitest';
import { countTokens, OUTPUT_VOCABULARY, outputWord, outputWordJson, tokenize } from './tokens.ts';

describe('token rule', () => {
  it('counts whitespace-separated words', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('   ')).toBe(0);
    expect(countTokens('one')).toBe(1);
    expect(countTokens('  one two\tthree\nfour  ')).toBe(4);
    expect(countTokens('a\r\nb\u00a0c')).toBe(3);
  });

  it('tokenize agrees with countTokens', () => {
    for (const text of ['', ' x ', 'a b  c', '\nq\tw e\n']) expect(tokenize(text)).toHaveLength(countTokens(text));
    expect(tokenize(' a  b ')).toEqual(['a', 'b']);
  });

  it('generates output whose concatenation has one token per generated word', () => {
    let text = '';
    for (let i = 0; i < 300; i++) {
      text += outputWord(17, i);
      expect(JSON.parse(outputWordJson(17, i))).toBe(outputWord(17, i));
    }
    expect(countTokens(text)).toBe(300);
    expect(OUTPUT_VOCABULARY.every((w) => /^[a-z]+$/.test(w))).toBe(true);
  });
});
