/**
 * The simulator's token rule, shared with the bench's prompt generator: one whitespace-separated word is
 * one token. Generated output is drawn from a fixed vocabulary, one word per token, so a client can count
 * the tokens of any text it receives with the same function.
 */

const WHITESPACE = /\s+/;

/** Number of tokens in `text` under the simulator's rule (one whitespace-separated word = one token). */
export function countTokens(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Same set of separators as /\s/ for the ASCII range, which is what prompts and outputs use.
    const space = c === 32 || (c >= 9 && c <= 13) || c === 160 || c === 0x2028 || c === 0x2029 || c === 0xfeff;
    if (space) inWord = false;
    else if (!inWord) {
      inWord = true;
      count++;
    }
  }
  return count;
}

/** The tokens of `text` (its whitespace-separated words). */
export function tokenize(text: string): string[] {
  const words = text.split(WHITESPACE);
  if (words.length > 0 && words[0] === '') words.shift();
  if (words.length > 0 && words[words.length - 1] === '') words.pop();
  return words;
}

/**
 * The output vocabulary. Plain ASCII words so every chunk is a short, escape-free JSON string; the first
 * token of an output is the bare word, every later one carries a leading space, so the concatenated text
 * has exactly as many words as tokens were generated.
 */
export const OUTPUT_VOCABULARY: readonly string[] = Object.freeze(
  (
    'the of and to in is was for on that with as by at from his her an were are which this be or has had ' +
    'not but their its also first one new after who they have two been more other when during into time ' +
    'would there all some most only over can may such will about many three than these then those while ' +
    'where under between being both each year city known several world state part system group number ' +
    'water light model token cache router prefill decode stream value order signal field point level'
  ).split(' '),
);

/** Pre-encoded JSON strings of the vocabulary: index i -> `"word"`; with a leading space -> `" word"`. */
export const VOCABULARY_JSON: readonly string[] = Object.freeze(OUTPUT_VOCABULARY.map((w) => JSON.stringify(w)));
export const VOCABULARY_JSON_SPACED: readonly string[] = Object.freeze(
  OUTPUT_VOCABULARY.map((w) => JSON.stringify(` ${w}`)),
);

/** The text of output token `index` of a sequence whose words start at `offset` in the vocabulary. */
export function outputWord(offset: number, index: number): string {
  const word = OUTPUT_VOCABULARY[(offset + index) % OUTPUT_VOCABULARY.length] as string;
  return index === 0 ? word : ` ${word}`;
}

/** JSON string literal of output token `index` (pre-encoded: nothing is escaped on the hot path). */
export function outputWordJson(offset: number, index: number): string {
  const i = (offset + index) % OUTPUT_VOCABULARY.length;
  return (index === 0 ? VOCABULARY_JSON[i] : VOCABULARY_JSON_SPACED[i]) as string;
}
