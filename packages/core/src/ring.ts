// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
import { fbiHash } from './fbi-hash.ts';
import { murmur64a } from './murmur64a.ts';
import { buildRingPoints, changeRingPoints, lowerBound, type RingPoints } from './ring-points.ts';
import type { U64 } from './u64.ts';
import { u64ToHex } from './u64.ts';

/** vllm-router's VIRTUAL_NODES_PER_WORKER. */
export const DEFAULT_VNODES = 160;
/** An upper bound that keeps a ring build bounded (1,000 members x 10,000 vnodes is already 10M points). */
export const MAX_VNODES = 10_000;
/**
 * withMembers() merges changes into the existing points while they touch at most this share of the
 * members; past it a full build costs no more (both are dominated by hashing the vnodes involved).
 */
export const INCREMENTAL_MAX_CHANGE_SHARE = 0.25;

export interface RingOptions {
  /** Virtual nodes per member, each at fbiHash(`${member}:${i}`) for i in 0..vnodes-1. Default 160. */
  vnodes?: number;
}

/** Internal construction from ready-made parts (not exported from the package). */
const PARTS = Symbol('ring parts');
interface RingParts {
  members: readonly string[];
  slots: readonly string[];
  points: RingPoints;
}

const FINGERPRINT_ENCODER = new TextEncoder();

/** Byte-order-independent string order: UTF-16 code units, the same for the ASCII URLs rings hold. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkVnodes(vnodes: number): void {
  if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > MAX_VNODES) {
    throw new RangeError(`vnodes must be an integer in [1, ${MAX_VNODES}], got ${vnodes}`);
  }
}

/** Members sorted (by UTF-16 code units) and de-duplicated: the order every ring keeps them in. */
export function sortRingMembers(members: readonly string[]): string[] {
  return [...new Set(members)].sort(compareStrings);
}

/**
 * A consistent-hash ring with vllm-router's positions: `vnodes` points per member at
 * fbiHash(member + ":" + i); a key belongs to the first point at or after fbiHash(key), wrapping to
 * the lowest. Points live in sorted typed arrays and lookups are a binary search.
 *
 * Two members can land on the same position (fbiHash has only 2^23 - 1 distinct values). vllm-router
 * keeps whichever member its worker list inserted last; here the member whose name sorts first owns
 * the position and the other follows it in the walk, so every process builds the same ring whatever
 * order it learnt the members in, and whether it built the ring whole or changed it a member at a time.
 *
 * A ring is immutable: withMembers() returns a new ring, so a request that read the old one keeps a
 * consistent view.
 */
export class ConsistentHashRing {
  /** Members, sorted and de-duplicated. */
  readonly members: readonly string[];
  readonly vnodes: number;
  /** Member of each owner slot; '' for a slot a departed member left free. */
  readonly #slots: readonly string[];
  readonly #posHi: Uint32Array;
  readonly #posLo: Uint32Array;
  readonly #owner: Uint32Array;
  #fingerprint: string | undefined;
  #memberSet: Set<string> | undefined;

  constructor(members: readonly string[], options: RingOptions & { [PARTS]?: RingParts } = {}) {
    const vnodes = options.vnodes ?? DEFAULT_VNODES;
    checkVnodes(vnodes);
    const parts = options[PARTS];
    if (parts) {
      this.members = parts.members;
      this.#slots = parts.slots;
      this.#posHi = parts.points.hi;
      this.#posLo = parts.points.lo;
      this.#owner = parts.points.owner;
    } else {
      const sorted = Object.freeze(sortRingMembers(members));
      const points = buildRingPoints(sorted, vnodes);
      this.members = sorted;
      this.#slots = sorted;
      this.#posHi = points.hi;
      this.#posLo = points.lo;
      this.#owner = points.owner;
    }
    this.vnodes = vnodes;
  }

  /**
   * The ring of `sorted` (sorted, unique members) from the points buildRingPoints() computed for
   * exactly those members and vnodes, e.g. in a worker thread. Throws when the arrays cannot be that build.
   */
  static fromPoints(sorted: readonly string[], vnodes: number, points: RingPoints): ConsistentHashRing {
    checkVnodes(vnodes);
    const count = sorted.length * vnodes;
    if (points.hi.length !== count || points.lo.length !== count || points.owner.length !== count) {
      throw new RangeError(`ring points: expected ${count} points for ${sorted.length} members x ${vnodes} vnodes`);
    }
    for (let i = 1; i < sorted.length; i++) {
      if (compareStrings(sorted[i - 1]!, sorted[i]!) >= 0) {
        throw new RangeError('ring points: members must be sorted and unique');
      }
    }
    const members = Object.freeze([...sorted]);
    return new ConsistentHashRing(members, { vnodes, [PARTS]: { members, slots: members, points } });
  }

  /** Hex digest of (vnodes, members): equal rings have equal fingerprints in every process. */
  get fingerprint(): string {
    // Computed on first use: hashing 10,000 member URLs is not free, and most swaps never read it.
    this.#fingerprint ??= ringFingerprint(this.members, this.vnodes);
    return this.#fingerprint;
  }

  /** Number of points on the ring (members x vnodes). */
  get size(): number {
    return this.#owner.length;
  }

  /** Point `index` in ring order: its position and member (for tests and tools; lookups never need it). */
  point(index: number): { hi: number; lo: number; member: string } | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.#owner.length) return undefined;
    return { hi: this.#posHi[index]!, lo: this.#posLo[index]!, member: this.#slots[this.#owner[index]!]! };
  }

  /**
   * The ring of `members` (any order, duplicates allowed) with this ring's vnodes. Members that stay
   * keep their points; only the points of members that leave or join change, merged into copies of
   * the sorted arrays. The result is point for point the ring a full build of `members` gives.
   */
  withMembers(members: readonly string[]): ConsistentHashRing {
    return this.mergeMembers(members) ?? new ConsistentHashRing(members, { vnodes: this.vnodes });
  }

  /**
   * withMembers() when the change is small enough to merge (at most INCREMENTAL_MAX_CHANGE_SHARE of
   * the members join or leave), else undefined: a caller that must not block can then build the
   * new ring elsewhere.
   */
  mergeMembers(members: readonly string[]): ConsistentHashRing | undefined {
    const current = this.members;
    // Set lookups instead of sorting the new list: 10,000 URLs sort in milliseconds, hash in far less.
    this.#memberSet ??= new Set(current);
    const known = this.#memberSet;
    const wanted = new Set(members);
    const joined: string[] = [];
    for (const m of wanted) if (!known.has(m)) joined.push(m);
    const limit = Math.max(1, current.length * INCREMENTAL_MAX_CHANGE_SHARE);
    if (joined.length > limit) return undefined;
    const left = wanted.size - joined.length === current.length ? [] : current.filter((m) => !wanted.has(m));
    if (joined.length === 0 && left.length === 0) return this;
    if (joined.length + left.length > limit) return undefined;
    joined.sort(compareStrings);
    const next = Object.freeze(mergeSorted(current, new Set(left), joined));
    const slots = [...this.#slots];
    const slotOf = new Map<string, number>();
    for (const name of left) {
      const slot = this.#slotIndex(name);
      slotOf.set(name, slot);
      slots[slot] = '';
    }
    // Joiners take the freed slots first, then new ones at the end.
    const free = [...slotOf.values()].sort((x, y) => y - x);
    const added = joined.map((name) => {
      const slot = free.pop() ?? slots.length;
      slots[slot] = name;
      return { name, slot };
    });
    const points = changeRingPoints(
      { hi: this.#posHi, lo: this.#posLo, owner: this.#owner },
      this.#slots,
      slotOf,
      added,
      this.vnodes,
    );
    return new ConsistentHashRing(next, { vnodes: this.vnodes, [PARTS]: { members: next, slots, points } });
  }

  /** The slot a member owns points with (found through its first vnode, so no index is kept). */
  #slotIndex(name: string): number {
    const h = fbiHash(`${name}:0`);
    for (let p = lowerBound(this.#posHi, this.#posLo, h.hi, h.lo); p < this.#owner.length; p++) {
      if (this.#slots[this.#owner[p]!] === name) return this.#owner[p]!;
    }
    throw new Error(`ring: no point of member ${name}`);
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
    return this.#slots[this.#owner[this.#pointIndex(h)]!];
  }

  /** walk() from a precomputed fbiHash. */
  walkHash(h: U64): readonly string[] {
    const count = this.#owner.length;
    if (count === 0) return [];
    const total = this.members.length;
    const seen = new Uint8Array(this.#slots.length);
    const out: string[] = [];
    const start = this.#pointIndex(h);
    for (let step = 0; step < count && out.length < total; step++) {
      let i = start + step;
      if (i >= count) i -= count;
      const m = this.#owner[i]!;
      if (seen[m] === 0) {
        seen[m] = 1;
        out.push(this.#slots[m]!);
      }
    }
    return out;
  }

  /** Index of the first point at or after h, wrapping to 0 past the last point. */
  #pointIndex(h: U64): number {
    const i = lowerBound(this.#posHi, this.#posLo, h.hi, h.lo);
    return i === this.#posHi.length ? 0 : i;
  }
}

/** `sorted` without `drop`, with `add` (sorted, none of them in `sorted`) merged in. */
function mergeSorted(sorted: readonly string[], drop: ReadonlySet<string>, add: readonly string[]): string[] {
  const out: string[] = [];
  let j = 0;
  for (const m of sorted) {
    while (j < add.length && compareStrings(add[j]!, m) < 0) out.push(add[j++]!);
    if (!drop.has(m)) out.push(m);
  }
  while (j < add.length) out.push(add[j++]!);
  return out;
}

/** The fingerprint of the ring that `members` (any order, duplicates allowed) and `vnodes` build. */
export function ringFingerprint(members: readonly string[], vnodes: number = DEFAULT_VNODES): string {
  const sorted = sortRingMembers(members);
  // JSON keeps member boundaries unambiguous; the version tag changes if the ring algorithm ever does.
  const text = JSON.stringify(['pdrouter-ring/1', 'fbi-furc-murmur64a', vnodes, sorted]);
  return u64ToHex(murmur64a(FINGERPRINT_ENCODER.encode(text)));
}
