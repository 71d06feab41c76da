/**
 * Unsigned 64-bit values as two unsigned 32-bit halves, so hashing never needs BigInt.
 * `hi` holds bits 63..32, `lo` bits 31..0; both are integers in [0, 2^32).
 */
export type U64 = { readonly hi: number; readonly lo: number };

const HEX_PAD = '00000000';

/** 16 lowercase hex digits, the format vllm-router logs and keys with (`{:016x}`). */
export function u64ToHex(h: U64): string {
  const hi = h.hi.toString(16);
  const lo = h.lo.toString(16);
  return HEX_PAD.slice(hi.length) + hi + HEX_PAD.slice(lo.length) + lo;
}

/** Parses 1 to 16 hex digits (no prefix) into a U64; undefined when the text is not hex. */
export function u64FromHex(text: string): U64 | undefined {
  if (!/^[0-9a-fA-F]{1,16}$/.test(text)) return undefined;
  const padded = text.padStart(16, '0');
  return { hi: Number.parseInt(padded.slice(0, 8), 16), lo: Number.parseInt(padded.slice(8), 16) };
}

/** Unsigned order: negative when a < b, zero when equal, positive when a > b. */
export function compareU64(a: U64, b: U64): number {
  if (a.hi !== b.hi) return a.hi < b.hi ? -1 : 1;
  if (a.lo !== b.lo) return a.lo < b.lo ? -1 : 1;
  return 0;
}
