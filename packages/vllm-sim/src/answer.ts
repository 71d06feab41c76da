// What the simulator answers, as a pure function of the prompt: the bench recomputes a workload's
// conversations (each turn carries the previous answer) without running a pod, e.g. for the best possible
// prefix-cache hit rate of a workload.
import { hashString } from './hash.ts';
import { OUTPUT_VOCABULARY, outputWord } from './tokens.ts';

/** The prompt's hash: fixed seed, so every pod (in any process) agrees on it. */
export function promptHashOf(promptWords: readonly string[]): number {
  return hashString(promptWords.join(' '), 0);
}

/** Where a prompt's answer starts in OUTPUT_VOCABULARY. */
export function answerOffset(promptHash: number): number {
  return promptHash % OUTPUT_VOCABULARY.length;
}

/** The text of a `tokens`-token answer to the prompt with no EOS or stop string in play (ignore_eos). */
export function answerText(promptWords: readonly string[], tokens: number): string {
  const offset = answerOffset(promptHashOf(promptWords));
  let s = '';
  for (let i = 0; i < tokens; i++) s += outputWord(offset, i);
  return s;
}
