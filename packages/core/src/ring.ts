// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
import { fbiHash } from './fbi-hash.ts';
import { murmur64a } from './murmur64a.ts';
import {
  type BucketedPoints,
  bucketBitsFor,
  bucketize,
  bucketizeInSteps,
  bucketOf,
  buildRingPoints,
  changeRingPoints,
  lowerBound,
  type RingPoints,
} from './ring-points.ts';
import { runToEnd } from './steps.ts';
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
  points: BucketedPoints;
  /** The members' digest sum behind the fingerprint, when the builder computed it. */
  digestSum?: U64;
}

/** Members whose digests fromPointsInSteps adds up between two of its steps. */
const DIGEST_STEP_MEMBERS = 1_000;

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
  /**
   * Members, sorted and de-duplicated. Read-only by type, not frozen: freezing (and then copying) a
   * 10,000-entry array costs milliseconds per change. Never change it.
   */
  readonly members: readonly string[];
  readonly vnodes: number;
  /** Member of each owner slot; '' for a slot a departed member left free. */
  readonly #slots: readonly string[];
  readonly #points: BucketedPoints;
  /** Index of each bucket's first point (for point(); computed on first use). */
  #bucketStarts: Uint32Array | undefined;
  #fingerprint: string | undefined;
  /** Sum of the members' digests (see ringFingerprint), computed on first use and moved by changes. */
  #digestSum: U64 | undefined;
  #slotOf: Map<string, number> | undefined;

  constructor(members: readonly string[], options: RingOptions & { [PARTS]?: RingParts } = {}) {
    const vnodes = options.vnodes ?? DEFAULT_VNODES;
    checkVnodes(vnodes);
    const parts = options[PARTS];
    if (parts) {
      this.members = parts.members;
      this.#slots = parts.slots;
      this.#points = parts.points;
      this.#digestSum = parts.digestSum;
    } else {
      const sorted = sortRingMembers(members);
      const points = buildRingPoints(sorted, vnodes);
      this.members = sorted;
      this.#slots = sorted;
      this.#points = bucketize(points, bucketBitsFor(points.hi.length));
    }
    this.vnodes = vnodes;
  }

  /**
   * The ring of `sorted` (sorted, unique members) from the points buildRingPoints() computed for
   * exactly those members and vnodes, e.g. in a worker thread. Throws when the arrays cannot be that build.
   */
  static fromPoints(sorted: readonly string[], vnodes: number, points: RingPoints): ConsistentHashRing {
    return runToEnd(ConsistentHashRing.fromPointsInSteps(sorted, vnodes, points));
  }

  /** fromPoints in steps: the generator yields between parts of the work and returns the ring. */
  static *fromPointsInSteps(
    sorted: readonly string[],
    vnodes: number,
    points: RingPoints,
  ): Generator<void, ConsistentHashRing> {
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
    const members = [...sorted];
    yield;
    const bucketed = yield* bucketizeInSteps(points, bucketBitsFor(count));
    // The fingerprint's sum, in steps too: a proxy reads the fingerprint of every ring it swaps in.
    let digestSum: U64 = { hi: 0, lo: 0 };
    for (let i = 0; i < members.length; i += DIGEST_STEP_MEMBERS) {
      digestSum = addMemberDigests(digestSum, members.slice(i, i + DIGEST_STEP_MEMBERS), 1);
      yield;
    }
    return new ConsistentHashRing(members, {
      vnodes,
      [PARTS]: { members, slots: members, points: bucketed, digestSum },
    });
  }

  /** Hex digest of (vnodes, members): equal rings have equal fingerprints in every process. */
  get fingerprint(): string {
    // Computed on first use: hashing 10,000 member URLs is not free, and most swaps never read it.
    this.#digestSum ??= addMemberDigests({ hi: 0, lo: 0 }, this.members, 1);
    this.#fingerprint ??= fingerprintOf(this.#digestSum, this.members.length, this.vnodes);
    return this.#fingerprint;
  }

  /** Number of points on the ring (members x vnodes). */
  get size(): number {
    return this.#points.size;
  }

  /** Point `index` in ring order: its position and member (for tests and tools; lookups never need it). */
  point(index: number): { hi: number; lo: number; member: string } | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= this.#points.size) return undefined;
    const { buckets } = this.#points;
    const starts = this.#starts();
    // The last bucket whose first point is at or before `index` (empty buckets share a start).
    let low = 0;
    let high = buckets.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (starts[mid]! <= index) low = mid;
      else high = mid - 1;
    }
    const b = buckets[low]!;
    const i = index - starts[low]!;
    return { hi: b.hi[i]!, lo: b.lo[i]!, member: this.#slots[b.owner[i]!]! };
  }

  #starts(): Uint32Array {
    if (this.#bucketStarts) return this.#bucketStarts;
    const { buckets } = this.#points;
    const starts = new Uint32Array(buckets.length);
    let at = 0;
    for (let b = 0; b < buckets.length; b++) {
      starts[b] = at;
      at += buckets[b]!.hi.length;
    }
    this.#bucketStarts = starts;
    return starts;
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
    const slotOf = this.#takeSlotMap();
    // Slots of the members asked for, stamped; a member in no slot joins. No second set of 10,000
    // strings is built: the slot stamps say who stays, and every other member leaves.
    const stays = new Uint8Array(this.#slots.length);
    const joinedSet = new Set<string>();
    let staying = 0;
    for (const m of members) {
      const slot = slotOf.get(m);
      if (slot === undefined) joinedSet.add(m);
      else if (stays[slot] === 0) {
        stays[slot] = 1;
        staying++;
      }
    }
    const limit = Math.max(1, current.length * INCREMENTAL_MAX_CHANGE_SHARE);
    const leaving = current.length - staying;
    if (joinedSet.size === 0 && leaving === 0) {
      this.#slotOf = slotOf;
      return this;
    }
    if (joinedSet.size + leaving > limit) {
      this.#slotOf = slotOf;
      return undefined;
    }
    const removed = new Map<string, number>();
    if (leaving > 0) {
      for (let slot = 0; slot < this.#slots.length; slot++) {
        const name = this.#slots[slot]!;
        if (name === '' || stays[slot] === 1) continue;
        removed.set(name, slot);
      }
    }
    return this.#changed(slotOf, removed, [...joinedSet].sort(compareStrings));
  }

  /**
   * The ring with `leaving` (members of this ring) taken out and `joining` (not members, unless also
   * leaving) put in: withMembers() for a caller that already knows the change, at a cost that does not
   * grow with the members that stay. Undefined when the change is too large to merge (see
   * mergeMembers) or is not a change of this ring: a name leaving that is not a member, or joining
   * that already is one, or named twice.
   */
  withChangedMembers(leaving: readonly string[], joining: readonly string[]): ConsistentHashRing | undefined {
    const limit = Math.max(1, this.members.length * INCREMENTAL_MAX_CHANGE_SHARE);
    // Too large whatever comes back (a member leaving and joining again is at most both).
    if (Math.abs(leaving.length - joining.length) > limit) return undefined;
    // A member that leaves and joins again keeps its points.
    const joiningSet = new Set(joining);
    const back = new Set(leaving.filter((m) => joiningSet.has(m)));
    const out = leaving.filter((m) => !back.has(m));
    const joined = [...new Set(joining.filter((m) => !back.has(m)))].sort(compareStrings);
    if (out.length + joined.length > limit || joined.length + back.size !== joining.length) return undefined;
    if (out.length === 0 && joined.length === 0) return this;
    const slotOf = this.#takeSlotMap();
    const removed = new Map<string, number>();
    let valid = back.size === 0 || [...back].every((m) => slotOf.has(m));
    for (const m of out) {
      const slot = slotOf.get(m);
      if (slot === undefined || removed.has(m)) valid = false;
      else removed.set(m, slot);
    }
    for (const m of joined) if (slotOf.has(m)) valid = false;
    if (!valid) {
      this.#slotOf = slotOf;
      return undefined;
    }
    return this.#changed(slotOf, removed, joined);
  }

  /** The ring without `removed` (name -> slot) and with `joined` (sorted, new); takes over `slotOf`. */
  #changed(slotOf: Map<string, number>, removed: Map<string, number>, joined: readonly string[]): ConsistentHashRing {
    const slots = [...this.#slots];
    for (const slot of removed.values()) slots[slot] = '';
    const next = changeSorted(this.members, removed, joined);
    // Joiners take the freed slots first, then new ones at the end.
    const free = [...removed.values()].sort((x, y) => y - x);
    const added = joined.map((name) => {
      const slot = free.pop() ?? slots.length;
      slots[slot] = name;
      return { name, slot };
    });
    const points = changeRingPoints(this.#points, this.#slots, removed, added, this.vnodes);
    const ring = new ConsistentHashRing(next, { vnodes: this.vnodes, [PARTS]: { members: next, slots, points } });
    // The slot map moves on to the new ring (the one a later change starts from); this ring builds
    // its own again if it is ever changed a second time.
    for (const name of removed.keys()) slotOf.delete(name);
    for (const a of added) slotOf.set(a.name, a.slot);
    ring.#slotOf = slotOf;
    // A fingerprint read before moves with the change: no rehash of the members that stay.
    if (this.#digestSum !== undefined) {
      ring.#digestSum = addMemberDigests(addMemberDigests(this.#digestSum, removed.keys(), -1), joined, 1);
    }
    return ring;
  }

  /** Member -> slot, built on first use and handed from ring to ring as members change. */
  #takeSlotMap(): Map<string, number> {
    const map = this.#slotOf;
    this.#slotOf = undefined;
    if (map) return map;
    const built = new Map<string, number>();
    for (let slot = 0; slot < this.#slots.length; slot++) {
      const name = this.#slots[slot]!;
      if (name !== '') built.set(name, slot);
    }
    return built;
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
    if (this.#points.size === 0) return undefined;
    const { buckets } = this.#points;
    let b = bucketOf(this.#points.bits, h.hi);
    let bucket = buckets[b]!;
    let i = lowerBound(bucket.hi, bucket.lo, h.hi, h.lo);
    // Past the bucket's last point: the next point is the first of a later bucket, wrapping around.
    while (i === bucket.hi.length) {
      b = b + 1 === buckets.length ? 0 : b + 1;
      bucket = buckets[b]!;
      i = 0;
    }
    return this.#slots[bucket.owner[i]!];
  }

  /**
   * walk() from a precomputed fbiHash: at most `limit` members. A whole walk of a big ring visits
   * nearly every point (10,000 members x 160), so a caller that tries a few pods asks for a few.
   */
  walkHash(h: U64, limit = Number.POSITIVE_INFINITY): readonly string[] {
    const size = this.#points.size;
    if (size === 0 || limit < 1) return [];
    const want = Math.min(this.members.length, limit);
    const { buckets } = this.#points;
    const seen = new Uint8Array(this.#slots.length);
    const out: string[] = [];
    let b = bucketOf(this.#points.bits, h.hi);
    let bucket = buckets[b]!;
    let i = lowerBound(bucket.hi, bucket.lo, h.hi, h.lo);
    for (let visited = 0; visited < size && out.length < want; ) {
      if (i === bucket.hi.length) {
        b = b + 1 === buckets.length ? 0 : b + 1;
        bucket = buckets[b]!;
        i = 0;
        continue;
      }
      const m = bucket.owner[i++]!;
      visited++;
      if (seen[m] === 0) {
        seen[m] = 1;
        out.push(this.#slots[m]!);
      }
    }
    return out;
  }
}

/** Index of the first entry of `sorted` that is >= `name`. */
function sortedIndex(sorted: readonly string[], name: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareStrings(sorted[mid]!, name) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Changes this small are spliced into a copy of the list; larger ones merge it through. */
const SPLICE_MAX_CHANGES = 64;

/** `sorted` without `drop`, with `add` (sorted, none of them in `sorted`) merged in. */
function changeSorted(sorted: readonly string[], drop: ReadonlyMap<string, number>, add: readonly string[]): string[] {
  if (drop.size + add.length <= SPLICE_MAX_CHANGES) {
    const out = sorted.slice();
    for (const m of drop.keys()) out.splice(sortedIndex(out, m), 1);
    for (const m of add) out.splice(sortedIndex(out, m), 0, m);
    return out;
  }
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
  return fingerprintOf(addMemberDigests({ hi: 0, lo: 0 }, sorted, 1), sorted.length, vnodes);
}

/** The version tag of the fingerprint's construction; it changes if the ring algorithm ever does. */
const FINGERPRINT_TAG = 0x72696e67; // "ring"
const FINGERPRINT_VERSION = 2;

/** sum + sign * murmur64a(member) for each member, mod 2^64. */
function addMemberDigests(sum: U64, members: Iterable<string>, sign: 1 | -1): U64 {
  let { hi, lo } = sum;
  for (const m of members) {
    const d = murmur64a(FINGERPRINT_ENCODER.encode(m));
    if (sign === 1) {
      const low = lo + d.lo;
      lo = low >>> 0;
      hi = (hi + d.hi + (low > 0xffffffff ? 1 : 0)) >>> 0;
    } else {
      const low = lo - d.lo;
      lo = low >>> 0;
      hi = (hi - d.hi - (low < 0 ? 1 : 0)) >>> 0;
    }
  }
  return { hi, lo };
}

/**
 * The fingerprint of (vnodes, members) from the sum of the members' digests: independent of their
 * order, so a change moves it by the members that changed (a ring's members are unique, so the sum
 * and the count name the set as well as a hash of the list would).
 */
function fingerprintOf(sum: U64, count: number, vnodes: number): string {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, FINGERPRINT_TAG, true);
  view.setUint32(4, FINGERPRINT_VERSION, true);
  view.setUint32(8, vnodes, true);
  view.setUint32(12, count, true);
  view.setUint32(16, sum.hi, true);
  view.setUint32(20, sum.lo, true);
  return u64ToHex(murmur64a(bytes));
}
