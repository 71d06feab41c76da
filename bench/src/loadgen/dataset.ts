import { SeededRandom } from './rng.ts';

/** One benchmark request, as vLLM's SampleRequest: the prompt, its length in tokens, the requested output length. */
export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface SampleRequest {
  readonly prompt: string;
  /** Pre-built chat messages (multi-turn): sent as they are, like vLLM's chat_messages. */
  readonly chatMessages?: readonly ChatMessage[];
  readonly promptLen: number;
  readonly expectedOutputLen: number;
  readonly requestId: string;
}

export interface RandomDatasetOptions {
  readonly numPrompts: number;
  readonly inputLen: number;
  readonly outputLen: number;
  /** Lengths are drawn uniformly from [floor(len * (1 - r)), ceil(len * (1 + r))], as vLLM does. */
  readonly rangeRatio: number;
  /** A prefix of this many tokens, drawn once and shared by every prompt. */
  readonly prefixLen: number;
  readonly seed: number;
  readonly requestIdPrefix: string;
}

const CONSONANTS = 'bcdfghjklmnprstvwxyz';
const VOWELS = 'aeiou';
const SYLLABLES: readonly string[] = [...CONSONANTS].flatMap((c) => [...VOWELS].map((v) => c + v));

/**
 * The vocabulary: 10,000 distinct two-syllable words ("baba" .. "zuzu"). Prompts are words separated by single
 * spaces, so a whitespace-word tokenizer (the simulator's token rule) counts exactly the tokens asked for.
 */
export const VOCABULARY: readonly string[] = SYLLABLES.flatMap((a) => SYLLABLES.map((b) => a + b));

/** Counts tokens under the simulator's rule: one whitespace-separated word is one token. */
export function countWordTokens(text: string): number {
  let count = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || c === 10 || c === 9 || c === 13 || c === 12 || c === 11;
    if (space) inWord = false;
    else if (!inWord) {
      inWord = true;
      count++;
    }
  }
  return count;
}

/**
 * vLLM's random dataset in the word tokenizer: per request an input length, an output length and an offset are
 * drawn from the seeded generator; the prompt is the shared random prefix followed by consecutive vocabulary words
 * starting at (offset + index), so prompts differ from each other from their first non-prefix token.
 */
export function sampleRandomDataset(options: RandomDatasetOptions): SampleRequest[] {
  const { numPrompts, inputLen, outputLen, rangeRatio, prefixLen, seed, requestIdPrefix } = options;
  if (!(rangeRatio >= 0 && rangeRatio < 1)) throw new RangeError('--random-range-ratio must be in [0, 1)');
  if (!Number.isInteger(numPrompts) || numPrompts < 1) throw new RangeError('--num-prompts must be a positive integer');
  if (!Number.isInteger(prefixLen) || prefixLen < 0) throw new RangeError('--random-prefix-len must be >= 0');
  const inputLow = Math.floor(inputLen * (1 - rangeRatio));
  const inputHigh = Math.ceil(inputLen * (1 + rangeRatio));
  const outputLow = Math.max(1, Math.floor(outputLen * (1 - rangeRatio)));
  const outputHigh = Math.max(1, Math.ceil(outputLen * (1 + rangeRatio)));
  if (prefixLen + inputLow < 1) {
    throw new RangeError('--random-input-len is too small: prefix + the shortest sampled input must be >= 1 token');
  }
  const rng = new SeededRandom(seed);
  const vocab = VOCABULARY;
  const v = vocab.length;
  // Same draw order as vLLM: all input lengths, all output lengths, all offsets, then the prefix.
  const inputLens = Array.from({ length: numPrompts }, () => rng.int(inputLow, inputHigh));
  const outputLens = Array.from({ length: numPrompts }, () => rng.int(outputLow, outputHigh));
  const offsets = Array.from({ length: numPrompts }, () => rng.int(0, v - 1));
  const prefixWords = Array.from({ length: prefixLen }, () => vocab[rng.int(0, v - 1)] as string);
  const prefix = prefixWords.join(' ');

  const requests: SampleRequest[] = [];
  for (let i = 0; i < numPrompts; i++) {
    const len = inputLens[i] as number;
    const start = (offsets[i] as number) + i;
    const words = new Array<string>(len);
    for (let k = 0; k < len; k++) words[k] = vocab[(start + k) % v] as string;
    const body = words.join(' ');
    const prompt = prefixLen > 0 ? (len > 0 ? `${prefix} ${body}` : prefix) : body;
    requests.push({
      prompt,
      promptLen: prefixLen + len,
      expectedOutputLen: outputLens[i] as number,
      requestId: requestIdPrefix + String(i),
    });
  }
  return requests;
}
