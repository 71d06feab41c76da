// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
import type { U64 } from './u64.ts';

// MurmurHash64A as mcrouter's lib/fbi/hash.c and vllm-router use it: m = 0xc6a4a7935bd1e995, r = 47,
// little-endian 8-byte blocks, the tail folded in little-endian order. Every 64-bit product is
// computed on 32-bit halves (Math.imul for the low words, 16-bit limbs for the carry) so the hot
// path allocates nothing and never touches BigInt.

/** The seed mcrouter's furc hash and vllm-router's ring use (hash.c `SEED`). */
export const FBI_SEED = 4193360111;
export const FBI_SEED_U64: U64 = Object.freeze({ hi: 0, lo: FBI_SEED });

const M_HI = 0xc6a4a793;
const M_LO = 0x5bd1e995;
const M_LO_HI16 = 0x5bd1;
const M_LO_LO16 = 0xe995;

// Results of the inlined helpers below; module-level so no object is allocated per call.
let outHi = 0;
let outLo = 0;

/** (hi:lo) * M mod 2^64 into outHi:outLo. */
function mulM(hi: number, lo: number): void {
  const aLo = lo & 0xffff;
  const aHi = lo >>> 16;
  const p0 = aLo * M_LO_LO16;
  const p1 = aHi * M_LO_LO16;
  const p2 = aLo * M_LO_HI16;
  const p3 = aHi * M_LO_HI16;
  // Bits 16..47 of lo * M_LO; every term stays below 2^32, so doubles hold them exactly.
  const mid = (p0 >>> 16) + (p1 & 0xffff) + p2;
  const carry = p3 + (p1 >>> 16) + (mid >>> 16);
  outLo = Math.imul(lo, M_LO) >>> 0;
  outHi = (carry + Math.imul(hi, M_LO) + Math.imul(lo, M_HI)) >>> 0;
}

/** The final avalanche: h ^= h >> 47; h *= M; h ^= h >> 47 (on outHi:outLo). */
function finalize(hi: number, lo: number): void {
  mulM(hi, (lo ^ (hi >>> 15)) >>> 0);
  outLo = (outLo ^ (outHi >>> 15)) >>> 0;
}

/**
 * MurmurHash64A of bytes[start, end) with the given seed; the result is left in the module's
 * output halves and read back by the callers in this package (see `murmur64a` for the public form).
 */
export function murmur64aInto(bytes: Uint8Array, start: number, end: number, seedHi: number, seedLo: number): void {
  const len = end - start;
  // h = seed ^ (len * M); lengths stay far below 2^32 (typed arrays cannot be larger here).
  mulM(0, len >>> 0);
  let hHi = (seedHi ^ outHi) >>> 0;
  let hLo = (seedLo ^ outLo) >>> 0;
  const blocksEnd = start + (len & ~7);
  for (let i = start; i < blocksEnd; i += 8) {
    const kLo = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
    const kHi = (bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24)) >>> 0;
    mulM(kHi, kLo);
    // k ^= k >> 47 only touches the low word: the shifted value is hi >>> 15.
    mulM(outHi, (outLo ^ (outHi >>> 15)) >>> 0);
    mulM((hHi ^ outHi) >>> 0, (hLo ^ outLo) >>> 0);
    hHi = outHi;
    hLo = outLo;
  }
  const rem = len & 7;
  if (rem > 0) {
    let tLo = 0;
    let tHi = 0;
    // The tail bytes, little-endian: bytes 4..6 go to the high word, 0..3 to the low word.
    for (let j = rem - 1; j >= 0; j--) {
      const b = bytes[blocksEnd + j]!;
      if (j >= 4) tHi |= b << (8 * (j - 4));
      else tLo |= b << (8 * j);
    }
    mulM((hHi ^ tHi) >>> 0, (hLo ^ tLo) >>> 0);
    hHi = outHi;
    hLo = outLo;
  }
  finalize(hHi, hLo);
}

/** MurmurHash64A of a single little-endian u32 (4 bytes) with FBI_SEED: the last step of fbiHash. */
export function murmur64aU32Into(value: number): void {
  mulM(0, 4);
  const hHi = outHi;
  const hLo = (FBI_SEED ^ outLo) >>> 0;
  mulM(hHi, (hLo ^ value) >>> 0);
  finalize(outHi, outLo);
}

/** mcrouter's murmur_rehash_64A: MurmurHash64A of the 8 little-endian bytes of k, seed FBI_SEED. */
export function murmurRehashInto(kHi: number, kLo: number): void {
  mulM(0, 8);
  const hHi = outHi;
  const hLo = (FBI_SEED ^ outLo) >>> 0;
  mulM(kHi, kLo);
  mulM(outHi, (outLo ^ (outHi >>> 15)) >>> 0);
  mulM((hHi ^ outHi) >>> 0, (hLo ^ outLo) >>> 0);
  finalize(outHi, outLo);
}

/** High half of the last result of the *Into functions. */
export function lastHi(): number {
  return outHi;
}

/** Low half of the last result of the *Into functions. */
export function lastLo(): number {
  return outLo;
}

/** MurmurHash64A(bytes, seed) as vllm-router computes it (default seed 4193360111). */
export function murmur64a(bytes: Uint8Array, seed: U64 = FBI_SEED_U64): U64 {
  murmur64aInto(bytes, 0, bytes.length, seed.hi >>> 0, seed.lo >>> 0);
  return { hi: outHi, lo: outLo };
}
