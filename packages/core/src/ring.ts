// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
import { fbiHash } from './fbi-hash.ts';
import { murmur64a } from './murmur64a.ts';
import type { U64 } from './u64.ts';
import { u64ToHex } from './u64.ts';

/** vllm-router's VIRTUAL_NODES_PER_WORKER. */
export const DEFAULT_VNODES = 160;
/** An upper bound that keeps a ring build bounded (1,000 members x 10,000 vnodes is already 10M points). */
export const MAX_VNODES = 10_000;

export interface RingOptions {
  /** Virtual nodes per member, each at fbiHash(`${member}:${i}`) for i in 0..vnodes-1. Default 160. */
  vnodes?: number;
}

const FINGERPRINT_ENCODER = new TextEncoder();

/** Byte-order-independent string order: UTF-16 code units, the same for the ASCII URLs rings hold. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A consistent-hash ring with vllm-router's positions: `vnodes` points per member at
 * fbiHash(member + ":" + i); a key belongs to the first point at or after fbiHash(key), wrapping to
 * the lowest. Points live in sorted typed arrays and lookups are a binary search.
 *
 * Two members can land on the same position (fbiHash has only 2^23 - 1 distinct values). vllm-router
 * keeps whichever member its worker list inserted last; here the member whose name sorts first owns
 * the position and the other follows it in the walk, so every process builds the same ring whatever
 * order it learnt the members in.
 */
export class ConsistentHashRing {
  /** Members, sorted and de-duplicated. */
  readonly members: readonly string[];
  readonly vnodes: number;
  /** Hex digest of (vnodes, members): equal rings have equal fingerprints in every process. */
  readonly fingerprint: string;
  readonly #posHi: Uint32Array;
  readonly #posLo: Uint32Array;
  readonly #owner: Uint32Array;

  constructor(members: readonly string[], options: RingOptions = {}) {
    const vnodes = options.vnodes ?? DEFAULT_VNODES;
    if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > MAX_VNODES) {
      throw new RangeError(`vnodes must be an integer in [1, ${MAX_VNODES}], got ${vnodes}`);
    }
    const sorted = [...new Set(members)].sort(compareStrings);
    this.members = Object.freeze(sorted);
    this.vnodes = vnodes;
    this.fingerprint = ringFingerprint(sorted, vnodes);

    const count = sorted.length * vnodes;
    const hi = new Uint32Array(count);
    const lo = new Uint32Array(count);
    let n = 0;
    for (let m = 0; m < sorted.length; m++) {
      const prefix = `${sorted[m]}:`;
      for (let i = 0; i < vnodes; i++, n++) {
        const h = fbiHash(prefix + i);
        hi[n] = h.hi;
        lo[n] = h.lo;
      }
    }
    // Points were generated member by member, so point index / vnodes is the member's rank; sorting
    // by (position, index) therefore breaks ties by member name.
    const order = new Uint32Array(count);
    for (let i = 0; i < count; i++) order[i] = i;
    order.sort((a, b) => hi[a]! - hi[b]! || lo[a]! - lo[b]! || a - b);
    this.#posHi = new Uint32Array(count);
    this.#posLo = new Uint32Array(count);
    this.#owner = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      const p = order[i]!;
      this.#posHi[i] = hi[p]!;
      this.#posLo[i] = lo[p]!;
      this.#owner[i] = Math.floor(p / vnodes);
    }
  }

  /** Number of points on the ring (members x vnodes). */
  get size(): number {
    return this.#owner.length;
  }

  /** The member owning `key`, or undefined for an empty ring. */
  owner(key: string): string | undefined {
    return this.ownerOfHash(fbiHash(key));
  }

  /** Distinct members clockwise from the owner of `key`: the failover order. */
  walk(key: string): readonly string[] {
    return this.walkHash(fbiHash(key));
  }

  /** owner() from a precomputed fbiHash, so one request hashes once for several rings. */
  ownerOfHash(h: U64): string | undefined {
    if (this.#owner.length === 0) return undefined;
    return this.members[this.#owner[this.#pointIndex(h)]!];
  }

  /** walk() from a precomputed fbiHash. */
  walkHash(h: U64): readonly string[] {
    const count = this.#owner.length;
    if (count === 0) return [];
    const total = this.members.length;
    const seen = new Uint8Array(total);
    const out: string[] = [];
    const start = this.#pointIndex(h);
    for (let step = 0; step < count && out.length < total; step++) {
      let i = start + step;
      if (i >= count) i -= count;
      const m = this.#owner[i]!;
      if (seen[m] === 0) {
        seen[m] = 1;
        out.push(this.members[m]!);
      }
    }
    return out;
  }

  /** Index of the first point at or after h, wrapping to 0 past the last point. */
  #pointIndex(h: U64): number {
    const hiArr = this.#posHi;
    const loArr = this.#posLo;
    let low = 0;
    let high = hiArr.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const pHi = hiArr[mid]!;
      if (pHi < h.hi || (pHi === h.hi && loArr[mid]! < h.lo)) low = mid + 1;
      else high = mid;
    }
    return low === hiArr.length ? 0 : low;
  }
}

/** The fingerprint of the ring that `members` (any order, duplicates allowed) and `vnodes` build. */
export function ringFingerprint(members: readonly string[], vnodes: number = DEFAULT_VNODES): string {
  const sorted = [...new Set(members)].sort(compareStrings);
  // JSON keeps member boundaries unambiguous; the version tag changes if the ring algorithm ever does.
  const text = JSON.stringify(['pdrouter-ring/1', 'fbi-furc-murmur64a', vnodes, sorted]);
  return u64ToHex(murmur64a(FINGERPRINT_ENCODER.encode(text)));
}
