import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { refFbiHash, refFurc, refHex, refMurmur64a } from '../test/bigint-reference.ts';
import { fbiHash, fbiHashBytes, vnodePositionsInto } from './fbi-hash.ts';
import { furc } from './furc.ts';
import { murmur64a } from './murmur64a.ts';
import { compareU64, u64FromHex, u64ToHex } from './u64.ts';

const utf8 = new TextEncoder();

describe('murmur64a', () => {
  test('matches the BigInt reference for every tail length and random seeds', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (bytes, seed) => {
        const seedU64 = { hi: Number(seed >> 32n), lo: Number(seed & 0xffffffffn) };
        expect(u64ToHex(murmur64a(bytes, seedU64))).toBe(refHex(refMurmur64a(bytes, seed)));
      }),
      { numRuns: 500 },
    );
  });

  test('aligned and unaligned views of the same bytes hash alike', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 70 }), fc.integer({ min: 0, max: 7 }), (bytes, shift) => {
        const backing = new Uint8Array(bytes.length + 8);
        backing.set(bytes, shift);
        const view = backing.subarray(shift, shift + bytes.length);
        expect(murmur64a(view)).toEqual(murmur64a(bytes));
        expect(furc(view, 8388607)).toBe(refFurc(bytes, 8388607));
      }),
      { numRuns: 300 },
    );
  });

  test('hashes a view of a larger buffer the same as a copy', () => {
    const buffer = utf8.encode('xxxhello worldyyy');
    const view = buffer.subarray(3, 14);
    expect(murmur64a(view)).toEqual(murmur64a(utf8.encode('hello world')));
  });
});

describe('furc', () => {
  test('matches the BigInt reference for random keys and moduli', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 2 ** 31 }), (bytes, m) => {
        expect(furc(bytes, m)).toBe(refFurc(bytes, m));
      }),
      { numRuns: 500 },
    );
  });

  test('stays below the modulus', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), fc.integer({ min: 2, max: 1000 }), (bytes, m) => {
        const r = furc(bytes, m);
        expect(r).toBeGreaterThanOrEqual(0);
        expect(r).toBeLessThan(m);
      }),
    );
  });

  test('moduli 0 and 1 give 0; out-of-range moduli are refused', () => {
    expect(furc(utf8.encode('k'), 0)).toBe(0);
    expect(furc(utf8.encode('k'), 1)).toBe(0);
    expect(() => furc(utf8.encode('k'), -1)).toThrow(RangeError);
    expect(() => furc(utf8.encode('k'), 2 ** 31 + 1)).toThrow(RangeError);
    expect(() => furc(utf8.encode('k'), 1.5)).toThrow(RangeError);
  });
});

describe('fbiHash', () => {
  test('matches the BigInt reference on strings, including multi-byte UTF-8', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (key) => {
        expect(u64ToHex(fbiHash(key))).toBe(refHex(refFbiHash(key)));
      }),
      { numRuns: 300 },
    );
  });

  test('a 4 KiB key hashes the same as the reference and as its bytes', () => {
    const key = 'ab€'.repeat(820);
    expect(u64ToHex(fbiHash(key))).toBe(refHex(refFbiHash(key)));
    expect(fbiHashBytes(utf8.encode(key))).toEqual(fbiHash(key));
  });
});

describe('U64 helpers', () => {
  test('hex round trip and order', () => {
    expect(u64ToHex({ hi: 0, lo: 1 })).toBe('0000000000000001');
    expect(u64ToHex({ hi: 0xffffffff, lo: 0xffffffff })).toBe('ffffffffffffffff');
    expect(u64FromHex('2b8619d38e5bf945')).toEqual({ hi: 0x2b8619d3, lo: 0x8e5bf945 });
    expect(u64FromHex('zz')).toBeUndefined();
    expect(compareU64({ hi: 1, lo: 0 }, { hi: 0, lo: 0xffffffff })).toBeGreaterThan(0);
    expect(compareU64({ hi: 1, lo: 2 }, { hi: 1, lo: 3 })).toBeLessThan(0);
    expect(compareU64({ hi: 1, lo: 2 }, { hi: 1, lo: 2 })).toBe(0);
  });
});

describe('vnodePositionsInto', () => {
  test('is fbiHash of member:i for every i, across digit counts and non-ASCII members', () => {
    for (const member of ['http://10.0.0.1:8000', 'http://pöd-ü.example:1', '']) {
      const vnodes = 1_203;
      const hi = new Uint32Array(vnodes + 2);
      const lo = new Uint32Array(vnodes + 2);
      vnodePositionsInto(member, vnodes, hi, lo, 1);
      expect(hi[0]).toBe(0);
      expect(hi[vnodes + 1]).toBe(0);
      for (let i = 0; i < vnodes; i++) {
        const h = fbiHash(`${member}:${i}`);
        expect([hi[i + 1], lo[i + 1]]).toEqual([h.hi, h.lo]);
      }
    }
  });

  test('matches the BigInt reference for members of every length around the 8-byte block boundaries', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.integer({ min: 1, max: 130 }), (member, vnodes) => {
        const hi = new Uint32Array(vnodes);
        const lo = new Uint32Array(vnodes);
        vnodePositionsInto(member, vnodes, hi, lo, 0);
        for (const i of [0, 9, 10, 99, 100, vnodes - 1]) {
          if (i >= vnodes) continue;
          const ref = refFbiHash(`${member}:${i}`);
          expect(refHex((BigInt(hi[i] ?? 0) << 32n) | BigInt(lo[i] ?? 0))).toBe(refHex(ref));
        }
      }),
      { numRuns: 300 },
    );
  });
});
