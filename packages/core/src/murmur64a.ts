// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
import type { U64 } from './u64.ts';

// MurmurHash64A as mcrouter's lib/fbi/hash.c and vllm-router use it: m = 0xc6a4a7935bd1e995, r = 47,
// little-endian 8-byte blocks, the tail folded in little-endian order. Every 64-bit product is
// computed on 32-bit halves (Math.imul for the low words, 16-bit limbs for the carry) so the hot
// path allocates nothing and never touches BigInt.

/** The seed mcrouter's furc hash and vllm-router's ring use (hash.c `SEED`). */
export const FBI_SEED = 4193360111;
export const FBI_SEED_U64: U64 = Object.freeze({ hi: 0, lo: FBI_SEED });

const M_HI = 0xc6a4a793 | 0;
const M_LO = 0x5bd1e995 | 0;
const M_LO_HI16 = 0x5bd1;
const M_LO_LO16 = 0xe995;
const SEED_I32 = FBI_SEED | 0;
/** Blocks are little-endian; on such a host an Int32Array view reads them directly. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// Halves are carried as signed int32 (`| 0`) inside the hot loops, which V8 keeps unboxed, and turned
// unsigned only at the edges. The helpers leave their 64-bit result in this one reused object:
// module-level `let` bindings measured 2-3x slower than property stores here.
const out = { hi: 0, lo: 0 };

/** (hi:lo) * M mod 2^64 into out. */
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
  out.lo = Math.imul(lo, M_LO);
  out.hi = (carry + Math.imul(hi, M_LO) + Math.imul(lo, M_HI)) | 0;
}

/** The final avalanche: h ^= h >> 47; h *= M; h ^= h >> 47 (into out). */
function finalize(hi: number, lo: number): void {
  mulM(hi, lo ^ (hi >>> 15));
  out.lo ^= out.hi >>> 15;
}

/** h = FBI_SEED ^ (8 * M), the start of every murmurRehashInto. */
mulM(0, 8);
const REHASH_H_HI = out.hi;
const REHASH_H_LO = SEED_I32 ^ out.lo;

/** Inputs at least this long read their blocks through an Int32Array view (creating one costs more than it saves on short keys). */
const VIEW_MIN_BYTES = 64;

/**
 * MurmurHash64A of bytes[start, end) with the given seed halves; the result is left in `out` and
 * read back with lastHi/lastLo by the callers in this package (`murmur64a` is the public form).
 */
export function murmur64aInto(bytes: Uint8Array, start: number, end: number, seedHi: number, seedLo: number): void {
  // h = seed ^ (len * M); lengths stay far below 2^32.
  mulM(0, (end - start) | 0);
  murmur64aFinishInto(bytes, start, end, seedHi ^ out.hi, seedLo ^ out.lo);
}

/**
 * The state after h = seed ^ (len * M) for a key of `len` bytes, into out: what murmur64aBlocksInto
 * and murmur64aFinishInto continue from.
 */
export function murmur64aStartInto(len: number, seedHi: number, seedLo: number): void {
  mulM(0, len | 0);
  out.hi ^= seedHi;
  out.lo ^= seedLo;
}

/** Mixes the whole 8-byte blocks of bytes[start, blocksEnd) into state (hHi:hLo), into out. */
export function murmur64aBlocksInto(
  bytes: Uint8Array,
  start: number,
  blocksEnd: number,
  hHi: number,
  hLo: number,
): void {
  let h1 = hHi;
  let h0 = hLo;
  const offset = bytes.byteOffset + start;
  if (LITTLE_ENDIAN && (offset & 3) === 0 && blocksEnd - start >= VIEW_MIN_BYTES) {
    // Long aligned input (a prompt in a freshly encoded buffer): read each block as two int32 words.
    const words = new Int32Array(bytes.buffer, offset, (blocksEnd - start) >>> 2);
    for (let w = 0; w < words.length; w += 2) {
      mulM(words[w + 1]!, words[w]!);
      mulM(out.hi, out.lo ^ (out.hi >>> 15));
      mulM(h1 ^ out.hi, h0 ^ out.lo);
      h1 = out.hi;
      h0 = out.lo;
    }
  } else {
    for (let i = start; i < blocksEnd; i += 8) {
      const kLo = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
      const kHi = bytes[i + 4]! | (bytes[i + 5]! << 8) | (bytes[i + 6]! << 16) | (bytes[i + 7]! << 24);
      mulM(kHi, kLo);
      // k ^= k >> 47 only touches the low word: the shifted value is hi >>> 15.
      mulM(out.hi, out.lo ^ (out.hi >>> 15));
      mulM(h1 ^ out.hi, h0 ^ out.lo);
      h1 = out.hi;
      h0 = out.lo;
    }
  }
  out.hi = h1;
  out.lo = h0;
}

/**
 * Finishes a hash from state (hHi:hLo): the blocks of bytes[start, end), the tail and the final
 * avalanche, into out. `start` must be a whole number of blocks from the key's first byte, so a
 * caller hashing many keys with a common prefix can mix the prefix's blocks once.
 */
export function murmur64aFinishInto(bytes: Uint8Array, start: number, end: number, hHi: number, hLo: number): void {
  const blocksEnd = start + ((end - start) & ~7);
  murmur64aBlocksInto(bytes, start, blocksEnd, hHi, hLo);
  let h1 = out.hi;
  let h0 = out.lo;
  const rem = (end - start) & 7;
  if (rem > 0) {
    let tLo = 0;
    let tHi = 0;
    // The tail bytes, little-endian: bytes 4..6 go to the high word, 0..3 to the low word.
    for (let j = rem - 1; j >= 0; j--) {
      const b = bytes[blocksEnd + j]!;
      if (j >= 4) tHi |= b << (8 * (j - 4));
      else tLo |= b << (8 * j);
    }
    mulM(h1 ^ tHi, h0 ^ tLo);
    h1 = out.hi;
    h0 = out.lo;
  }
  finalize(h1, h0);
}

/** MurmurHash64A of a single little-endian u32 (4 bytes) with FBI_SEED: the last step of fbiHash. */
export function murmur64aU32Into(value: number): void {
  mulM(0, 4);
  const hHi = out.hi;
  const hLo = SEED_I32 ^ out.lo;
  mulM(hHi, hLo ^ value);
  finalize(out.hi, out.lo);
}

/** mcrouter's murmur_rehash_64A: MurmurHash64A of the 8 little-endian bytes of k, seed FBI_SEED. */
export function murmurRehashInto(kHi: number, kLo: number): void {
  const hHi = REHASH_H_HI;
  const hLo = REHASH_H_LO;
  mulM(kHi, kLo);
  mulM(out.hi, out.lo ^ (out.hi >>> 15));
  mulM(hHi ^ out.hi, hLo ^ out.lo);
  finalize(out.hi, out.lo);
}

/** High half (as int32) of the last result of the *Into functions. */
export function lastHi(): number {
  return out.hi;
}

/** Low half (as int32) of the last result of the *Into functions. */
export function lastLo(): number {
  return out.lo;
}

/** MurmurHash64A(bytes, seed) as vllm-router computes it (default seed 4193360111). */
export function murmur64a(bytes: Uint8Array, seed: U64 = FBI_SEED_U64): U64 {
  murmur64aInto(bytes, 0, bytes.length, seed.hi | 0, seed.lo | 0);
  return { hi: out.hi >>> 0, lo: out.lo >>> 0 };
}
