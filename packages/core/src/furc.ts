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
const cacheHi = new Uint32Array(FURC_CACHE_SIZE);
const cacheLo = new Uint32Array(FURC_CACHE_SIZE);
let cachedWords = 0;
let keyBytes: Uint8Array = new Uint8Array(0);
let keyStart = 0;
let keyEnd = 0;

function bit(index: number): number {
  const word = index >>> 6;
  while (cachedWords <= word) {
    if (cachedWords === 0) {
      murmur64aInto(keyBytes, keyStart, keyEnd, 0, FBI_SEED);
    } else {
      murmurRehashInto(cacheHi[cachedWords - 1]!, cacheLo[cachedWords - 1]!);
    }
    cacheHi[cachedWords] = lastHi();
    cacheLo[cachedWords] = lastLo();
    cachedWords++;
  }
  const pos = index & 63;
  return pos < 32 ? (cacheLo[word]! >>> pos) & 1 : (cacheHi[word]! >>> (pos - 32)) & 1;
}

/** furc over bytes[start, end); the allocation-free form used by fbiHash. */
export function furcRange(bytes: Uint8Array, start: number, end: number, m: number): number {
  if (!Number.isInteger(m) || m < 0 || m > FURC_MAX_MODULUS) {
    throw new RangeError(`furc modulus must be an integer in [0, ${FURC_MAX_MODULUS}], got ${m}`);
  }
  if (m <= 1) return 0;
  keyBytes = bytes;
  keyStart = start;
  keyEnd = end;
  cachedWords = 0;
  let d = 0;
  while (m > 2 ** d) d++;
  let a = d;
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    while (bit(a) === 0) {
      if (d === 0) return 0;
      d--;
      a = d;
    }
    a += FURC_SHIFT;
    let num = 1;
    for (let i = 1; i < d; i++) {
      num = num * 2 + bit(a);
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
