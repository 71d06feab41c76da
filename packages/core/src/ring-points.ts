// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
import { fbiHash, vnodePositionsInto } from './fbi-hash.ts';
import { runToEnd } from './steps.ts';

// The points behind ConsistentHashRing: positions as (hi, lo) halves in ascending order, and the owner
// of each point as a slot index into the ring's slot table. Ties at one position are ordered by member
// name, so a full build and any sequence of incremental changes give the same points.
//
// A ring holds its points split into buckets by the top bits of the position (about
// TARGET_BUCKET_POINTS points each). A member's 160 points fall into at most 160 buckets, so adding or
// removing one member rewrites those buckets and shares every other one with the previous ring: at
// 10,000 members that is ~40k points copied instead of 1.6M.

/** Points in ring order, as one set of arrays (a full build's output, and one bucket's contents). */
export interface RingPoints {
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  /** Slot of each point's member (for a full build: the member's rank in the sorted list). */
  readonly owner: Uint32Array;
}

/** A ring's points by bucket: bucket b holds the points whose position's top `bits` bits are b. */
export interface BucketedPoints {
  readonly bits: number;
  readonly buckets: readonly RingPoints[];
  readonly size: number;
}

/** Points per bucket a ring aims at: a bucket is copied whole when one of its points changes. */
export const TARGET_BUCKET_POINTS = 128;
/** At most 2^16 buckets (the table of bucket references stays a few hundred KiB). */
const MAX_BUCKET_BITS = 16;
const EMPTY: RingPoints = Object.freeze({ hi: new Uint32Array(0), lo: new Uint32Array(0), owner: new Uint32Array(0) });

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The bucket of a position's high half. */
export function bucketOf(bits: number, hi: number): number {
  // `>>> 32` is a shift by 0 in JavaScript, so a single bucket is a case of its own.
  return bits === 0 ? 0 : hi >>> (32 - bits);
}

/** The bucket bits for a ring of `count` points. */
export function bucketBitsFor(count: number): number {
  let bits = 0;
  while (bits < MAX_BUCKET_BITS && count / 2 ** bits > TARGET_BUCKET_POINTS) bits++;
  return bits;
}

/**
 * Every point of `sorted` (sorted, unique members) x `vnodes`, in ring order. Owners are ranks in
 * `sorted`. Pure and synchronous: it runs on the event loop for small rings and in a worker for big ones.
 */
export function buildRingPoints(sorted: readonly string[], vnodes: number): RingPoints {
  const count = sorted.length * vnodes;
  const hi = new Uint32Array(count);
  const lo = new Uint32Array(count);
  for (let m = 0; m < sorted.length; m++) vnodePositionsInto(sorted[m]!, vnodes, hi, lo, m * vnodes);
  // Points were generated member by member, so point index / vnodes is the member's rank: ordering
  // by (position, index) breaks ties by member name.
  const { keys, order } = sortByHi(hi, count);
  // Runs sharing a hi (a shared position, or rarely a different lo) are re-ordered by (lo, index).
  let start = 0;
  while (start < count) {
    const h = keys[start]!;
    let end = start + 1;
    while (end < count && keys[end]! === h) end++;
    if (end - start > 1) insertionSortByLo(order, lo, start, end);
    start = end;
  }
  const owner = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const p = order[i]!;
    // The order array becomes the low halves: each entry is read before it is overwritten.
    order[i] = lo[p]!;
    owner[i] = Math.floor(p / vnodes);
  }
  return { hi: keys, lo: order, owner };
}

const RADIX_BITS = 8;
const RADIX = 1 << RADIX_BITS;

/**
 * hi sorted (keys) and the index of each entry (order), stable, so equal keys keep index order: an
 * LSD radix sort, 8 bits a pass. Keys travel with their indices, so every pass reads sequentially and
 * writes into 256 streams, which caches handle far better than a comparison sort's or a wide radix's
 * scattered accesses.
 */
function sortByHi(hi: Uint32Array, count: number): { keys: Uint32Array; order: Uint32Array } {
  let keys = new Uint32Array(count);
  keys.set(hi.subarray(0, count));
  let order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  let keysOut = new Uint32Array(count);
  let orderOut = new Uint32Array(count);
  const counts = new Uint32Array(RADIX);
  for (let shift = 0; shift < 32; shift += RADIX_BITS) {
    counts.fill(0);
    for (let i = 0; i < count; i++) counts[(keys[i]! >>> shift) & (RADIX - 1)]!++;
    let sum = 0;
    for (let d = 0; d < RADIX; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < count; i++) {
      const k = keys[i]!;
      const at = counts[(k >>> shift) & (RADIX - 1)]!++;
      keysOut[at] = k;
      orderOut[at] = order[i]!;
    }
    [keys, keysOut] = [keysOut, keys];
    [order, orderOut] = [orderOut, order];
  }
  return { keys, order };
}

function insertionSortByLo(order: Uint32Array, lo: Uint32Array, start: number, end: number): void {
  for (let i = start + 1; i < end; i++) {
    const p = order[i]!;
    let j = i - 1;
    while (j >= start && (lo[order[j]!]! > lo[p]! || (lo[order[j]!]! === lo[p]! && order[j]! > p))) {
      order[j + 1] = order[j]!;
      j--;
    }
    order[j + 1] = p;
  }
}

/** Index of the first point at or after (h, l); `hi.length` when every point is before it. */
export function lowerBound(hi: Uint32Array, lo: Uint32Array, h: number, l: number): number {
  let low = 0;
  let high = hi.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const pHi = hi[mid]!;
    if (pHi < h || (pHi === h && lo[mid]! < l)) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Points in ring order split into buckets of `bits` bits: views into the same arrays, nothing copied. */
export function bucketize(points: RingPoints, bits: number): BucketedPoints {
  return runToEnd(bucketizeInSteps(points, bits));
}

/** Buckets bucketizeInSteps fills between two of its steps (well under a millisecond's work). */
const BUCKETS_PER_STEP = 2_048;

/** bucketize in steps: the generator yields after every BUCKETS_PER_STEP buckets and returns the result. */
export function* bucketizeInSteps(points: RingPoints, bits: number): Generator<void, BucketedPoints> {
  const n = 2 ** bits;
  const buckets: RingPoints[] = new Array(n);
  const { hi } = points;
  let start = 0;
  for (let b = 0; b < n; b++) {
    let end = hi.length;
    if (b < n - 1) {
      // First point of a later bucket: the first position >= (b + 1) << (32 - bits).
      const limit = (b + 1) * 2 ** (32 - bits);
      let low = start;
      let high = hi.length;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (hi[mid]! < limit) low = mid + 1;
        else high = mid;
      }
      end = low;
    }
    buckets[b] =
      end === start
        ? EMPTY
        : { hi: hi.subarray(start, end), lo: points.lo.subarray(start, end), owner: points.owner.subarray(start, end) };
    start = end;
    if (b % BUCKETS_PER_STEP === BUCKETS_PER_STEP - 1) yield;
  }
  return { bits, buckets, size: hi.length };
}

/** Every point in ring order as one set of arrays. */
export function flattenPoints(points: BucketedPoints): RingPoints {
  const out: RingPoints = {
    hi: new Uint32Array(points.size),
    lo: new Uint32Array(points.size),
    owner: new Uint32Array(points.size),
  };
  let at = 0;
  for (const b of points.buckets) {
    out.hi.set(b.hi, at);
    out.lo.set(b.lo, at);
    out.owner.set(b.owner, at);
    at += b.hi.length;
  }
  return out;
}

interface NewPoint {
  hi: number;
  lo: number;
  name: string;
  slot: number;
}

/**
 * `points` without the points of `removedSlots` and with `vnodes` points for each of `added` (member
 * name and the slot it takes), in the order a full build of the resulting members would give them.
 * `slotName` names the member of every slot still in use. Only the buckets that gain or lose a point
 * are rewritten; the others are shared with `points`. Cost: O(changes x vnodes x bucket size).
 */
export function changeRingPoints(
  points: BucketedPoints,
  slotName: readonly string[],
  removedSlots: ReadonlyMap<string, number>,
  added: readonly { name: string; slot: number }[],
  vnodes: number,
): BucketedPoints {
  const { bits } = points;
  const drops = new Map<number, number[]>();
  const fresh = new Map<number, NewPoint[]>();
  // Points to drop: recompute each leaving member's positions and find its points among the ties there.
  for (const [name, slot] of removedSlots) {
    for (let i = 0; i < vnodes; i++) {
      const h = fbiHash(`${name}:${i}`);
      const b = bucketOf(bits, h.hi);
      const bucket = points.buckets[b]!;
      for (let p = lowerBound(bucket.hi, bucket.lo, h.hi, h.lo); p < bucket.hi.length; p++) {
        if (bucket.hi[p] !== h.hi || bucket.lo[p] !== h.lo) break;
        if (bucket.owner[p] !== slot) continue;
        pushTo(drops, b, p);
      }
    }
  }
  const hi = new Uint32Array(vnodes);
  const lo = new Uint32Array(vnodes);
  for (const a of added) {
    vnodePositionsInto(a.name, vnodes, hi, lo, 0);
    for (let i = 0; i < vnodes; i++) {
      pushTo(fresh, bucketOf(bits, hi[i]!), { hi: hi[i]!, lo: lo[i]!, name: a.name, slot: a.slot });
    }
  }
  let dropped = 0;
  const buckets = points.buckets.slice();
  const changed = [...new Set([...drops.keys(), ...fresh.keys()])];
  // A member whose own vnodes share a position finds that run twice: sorted and de-duplicated.
  const dropLists = changed.map((b) => [...new Set(drops.get(b))].sort((x, y) => x - y));
  changed.forEach((b, k) => {
    const drop = dropLists[k]!;
    dropped += drop.length;
    const count = buckets[b]!.hi.length - drop.length + (fresh.get(b)?.length ?? 0);
    // One buffer per bucket for its three arrays: allocating a buffer costs more than merging a bucket.
    const buffer = new Uint32Array(3 * count);
    const out: RingPoints =
      count === 0
        ? EMPTY
        : { hi: buffer.subarray(0, count), lo: buffer.subarray(count, 2 * count), owner: buffer.subarray(2 * count) };
    mergeBucket(buckets[b]!, drop, fresh.get(b) ?? [], slotName, out);
    buckets[b] = out;
  });
  const size = points.size - dropped + added.length * vnodes;
  const result: BucketedPoints = { bits, buckets, size };
  // A ring that grew or shrank a lot a few members at a time gets buckets of its new size.
  const wanted = bucketBitsFor(size);
  return Math.abs(wanted - bits) > 1 ? bucketize(flattenPoints(result), wanted) : result;
}

function pushTo<T>(lists: Map<number, T[]>, key: number, value: T): void {
  const list = lists.get(key);
  if (list) list.push(value);
  else lists.set(key, [value]);
}

/**
 * One bucket without the points at `drop` (sorted indices) and with `fresh` merged in by (position,
 * member name), written into `out` (arrays of exactly the resulting length).
 */
function mergeBucket(
  old: RingPoints,
  drop: readonly number[],
  fresh: NewPoint[],
  slotName: readonly string[],
  out: RingPoints,
): void {
  // Same member at the same position: a stable sort keeps vnode order, which is what a full build does.
  fresh.sort((x, y) => x.hi - y.hi || x.lo - y.lo || compareStrings(x.name, y.name));
  let write = 0;
  let f = 0;
  let d = 0;
  for (let p = 0; p < old.hi.length; p++) {
    if (d < drop.length && drop[d] === p) {
      d++;
      continue;
    }
    const oHi = old.hi[p]!;
    const oLo = old.lo[p]!;
    // A new point goes before the first old point that sorts after it: a higher position, or the
    // same position held by a member whose name sorts after the new one.
    while (f < fresh.length) {
      const n = fresh[f]!;
      const before =
        n.hi < oHi ||
        (n.hi === oHi && (n.lo < oLo || (n.lo === oLo && compareStrings(slotName[old.owner[p]!]!, n.name) > 0)));
      if (!before) break;
      out.hi[write] = n.hi;
      out.lo[write] = n.lo;
      out.owner[write++] = n.slot;
      f++;
    }
    out.hi[write] = oHi;
    out.lo[write] = oLo;
    out.owner[write++] = old.owner[p]!;
  }
  for (; f < fresh.length; f++) {
    const n = fresh[f]!;
    out.hi[write] = n.hi;
    out.lo[write] = n.lo;
    out.owner[write++] = n.slot;
  }
}
