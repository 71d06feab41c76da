import { furcFromFirstWord, furcRange } from './furc.ts';
import {
  FBI_SEED,
  lastHi,
  lastLo,
  murmur64aBlocksInto,
  murmur64aFinishInto,
  murmur64aStartInto,
  murmur64aU32Into,
} from './murmur64a.ts';
import type { U64 } from './u64.ts';

/** vllm-router's furc modulus for ring positions: 2^23 - 1. */
export const FBI_FURC_MODULUS = 2 ** 23 - 1;

const encoder = new TextEncoder();
// A reusable UTF-8 buffer: hashing a multi-KiB prompt per request should not allocate.
let scratch = new Uint8Array(4096);

/** UTF-8 encodes into the shared scratch buffer and returns the byte length. */
function encodeToScratch(key: string): number {
  // Each UTF-16 code unit becomes at most 3 UTF-8 bytes.
  const worstCase = key.length * 3;
  if (scratch.length < worstCase) scratch = new Uint8Array(Math.max(worstCase, scratch.length * 2));
  return encoder.encodeInto(key, scratch).written;
}

/**
 * vllm-router's `fbi_hash`: murmur64a(le32(furc(utf8(key), 2^23 - 1)), 4193360111).
 * Ring positions and key hashes both come from this function.
 */
export function fbiHash(key: string): U64 {
  const n = encodeToScratch(key);
  murmur64aU32Into(furcRange(scratch, 0, n, FBI_FURC_MODULUS));
  return { hi: lastHi() >>> 0, lo: lastLo() >>> 0 };
}

/** fbiHash over raw bytes (the same value as fbiHash of the string those bytes encode). */
export function fbiHashBytes(bytes: Uint8Array): U64 {
  murmur64aU32Into(furcRange(bytes, 0, bytes.length, FBI_FURC_MODULUS));
  return { hi: lastHi() >>> 0, lo: lastLo() >>> 0 };
}

/**
 * fbiHash(`${member}:${i}`) for i in 0..vnodes-1 into hi/lo from index `at`: the ring's virtual node
 * positions. The member's bytes are encoded once and only the decimal digits of i are rewritten; the
 * murmur64a blocks that lie wholly in the `${member}:` prefix are mixed once per key length (a key's
 * length seeds the hash), so each vnode hashes only its last block or two.
 */
export function vnodePositionsInto(member: string, vnodes: number, hi: Uint32Array, lo: Uint32Array, at: number): void {
  const prefix = encodeToScratch(`${member}:`);
  // Room for the digits of any vnode count (MAX_VNODES has 5).
  if (scratch.length < prefix + 16) {
    const grown = new Uint8Array(prefix + 16);
    grown.set(scratch.subarray(0, prefix));
    scratch = grown;
  }
  const shared = prefix & ~7;
  let stateLen = -1;
  let stateHi = 0;
  let stateLo = 0;
  for (let i = 0; i < vnodes; i++) {
    let end = prefix;
    if (i === 0) scratch[end++] = 48;
    else {
      let digits = 0;
      for (let v = i; v > 0; v = Math.floor(v / 10)) digits++;
      end += digits;
      for (let v = i, p = end - 1; v > 0; v = Math.floor(v / 10), p--) scratch[p] = 48 + (v % 10);
    }
    if (end !== stateLen) {
      murmur64aStartInto(end, 0, FBI_SEED | 0);
      murmur64aBlocksInto(scratch, 0, shared, lastHi(), lastLo());
      stateLen = end;
      stateHi = lastHi();
      stateLo = lastLo();
    }
    murmur64aFinishInto(scratch, shared, end, stateHi, stateLo);
    murmur64aU32Into(furcFromFirstWord(lastHi(), lastLo(), FBI_FURC_MODULUS));
    hi[at + i] = lastHi() >>> 0;
    lo[at + i] = lastLo() >>> 0;
  }
}
