import { furcRange } from './furc.ts';
import { lastHi, lastLo, murmur64aU32Into } from './murmur64a.ts';
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
