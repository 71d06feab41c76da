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
const cacheHi = new Int32Array(FURC_CACHE_SIZE);
const cacheLo = new Int32Array(FURC_CACHE_SIZE);

/** Computes bit-stream words [filled, word] and returns the new count of filled words. */
function fillWords(bytes: Uint8Array, start: number, end: number, filled: number, word: number): number {
  let n = filled;
  while (n <= word) {
    if (n === 0) murmur64aInto(bytes, start, end, 0, FBI_SEED | 0);
    else murmurRehashInto(cacheHi[n - 1]!, cacheLo[n - 1]!);
    cacheHi[n] = lastHi();
    cacheLo[n] = lastLo();
    n++;
  }
  return n;
}

/** Bit `index` of the (filled) stream. */
function bitAt(index: number): number {
  const word = index >>> 6;
  const pos = index & 63;
  return pos < 32 ? (cacheLo[word]! >>> pos) & 1 : (cacheHi[word]! >>> (pos - 32)) & 1;
}

/** furc over bytes[start, end); the allocation-free form used by fbiHash. */
export function furcRange(bytes: Uint8Array, start: number, end: number, m: number): number {
  if (!Number.isInteger(m) || m < 0 || m > FURC_MAX_MODULUS) {
    throw new RangeError(`furc modulus must be an integer in [0, ${FURC_MAX_MODULUS}], got ${m}`);
  }
  if (m <= 1) return 0;
  // Words are filled on demand; each bit read is preceded by a (usually no-op) fill.
  let filled = 0;
  // d = ceil(log2(m)): the smallest d with m <= 2^d.
  let d = 32 - Math.clz32(m - 1);
  let a = d;
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    for (;;) {
      filled = fillWords(bytes, start, end, filled, a >>> 6);
      if (bitAt(a) !== 0) break;
      if (d === 0) return 0;
      d--;
      a = d;
    }
    a += FURC_SHIFT;
    let num = 1;
    for (let i = 1; i < d; i++) {
      filled = fillWords(bytes, start, end, filled, a >>> 6);
      // num < 2^(d-1) <= 2^30 before the shift, so it stays a positive int32.
      num = (num << 1) | bitAt(a);
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
