// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
import { FBI_SEED, lastHi, lastLo, murmur64aInto, murmurRehashInto } from './murmur64a.ts';

// mcrouter's furc_hash as vllm-router ports it (policies/consistent_hash.rs). The bit stream is
// word 0 = murmur64a(key, FBI_SEED), word n = murmur_rehash(word n-1); bit i is bit (i & 63) of word
// (i >> 6). One detail differs from mcrouter's C: when the depth reaches zero, vllm-router checks
// `d == 0` *before* decrementing (C does `--d == 0`), so it tries one more bit at depth 0.
// We follow vllm-router, since its ring positions are what we must reproduce.

const FURC_SHIFT = 23;
const MAX_TRIES = 32;
const FURC_CACHE_SIZE = 1024;
/** The largest modulus furc accepts here (2^31, so every intermediate stays a small integer). */
export const FURC_MAX_MODULUS = 2 ** 31;

// Lazily filled bit-stream words, shared across calls: furc is synchronous and never re-entered.
// Word n occupies [2n] (low half) and [2n + 1] (high half), so bit i is bit (i & 31) of entry i >>> 5.
const stream = new Int32Array(FURC_CACHE_SIZE * 2);

/** Computes bit-stream words [filled, word] (filled >= 1) and returns the new count of filled words. */
function fillWords(filled: number, word: number): number {
  let n = filled;
  while (n <= word) {
    murmurRehashInto(stream[2 * n - 1]!, stream[2 * n - 2]!);
    stream[2 * n] = lastLo();
    stream[2 * n + 1] = lastHi();
    n++;
  }
  return n;
}

function checkModulus(m: number): void {
  if (!Number.isInteger(m) || m < 0 || m > FURC_MAX_MODULUS) {
    throw new RangeError(`furc modulus must be an integer in [0, ${FURC_MAX_MODULUS}], got ${m}`);
  }
}

/** furc over bytes[start, end); the allocation-free form used by fbiHash. */
export function furcRange(bytes: Uint8Array, start: number, end: number, m: number): number {
  checkModulus(m);
  if (m <= 1) return 0;
  murmur64aInto(bytes, start, end, 0, FBI_SEED | 0);
  return furcFromFirstWordUnchecked(lastHi(), lastLo(), m);
}

/**
 * furc of a key whose murmur64a(key, FBI_SEED) (the stream's first word) is (hi:lo), as int32 halves:
 * for callers that hash many keys sharing a prefix and compute that word themselves.
 */
export function furcFromFirstWord(hi: number, lo: number, m: number): number {
  checkModulus(m);
  return m <= 1 ? 0 : furcFromFirstWordUnchecked(hi, lo, m);
}

function furcFromFirstWordUnchecked(hi: number, lo: number, m: number): number {
  stream[0] = lo;
  stream[1] = hi;
  // Words are filled on demand: before each lead bit, and for all the bits of a number at once.
  let filled = 1;
  // d = ceil(log2(m)): the smallest d with m <= 2^d.
  let d = 32 - Math.clz32(m - 1);
  let a = d;
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    for (;;) {
      if (a >>> 6 >= filled) filled = fillWords(filled, a >>> 6);
      if (((stream[a >>> 5]! >>> (a & 31)) & 1) !== 0) break;
      if (d === 0) return 0;
      d--;
      a = d;
    }
    a += FURC_SHIFT;
    // The number's bits are a, a + SHIFT, ..., a + (d - 2) * SHIFT.
    const last = (a + (d - 2) * FURC_SHIFT) >>> 6;
    if (d > 1 && last >= filled) filled = fillWords(filled, last);
    let num = 1;
    for (let i = 1; i < d; i++) {
      // num < 2^(d-1) <= 2^30 before the shift, so it stays a positive int32.
      num = (num << 1) | ((stream[a >>> 5]! >>> (a & 31)) & 1);
      a += FURC_SHIFT;
    }
    if (num < m) return num;
  }
  // Give up: 0 is a legal value for every modulus.
  return 0;
}

/** furc_hash(key, m): a consistent bucket in [0, m) (0 when m <= 1). */
export function furc(bytes: Uint8Array, m: number): number {
  return furcRange(bytes, 0, bytes.length, m);
}
