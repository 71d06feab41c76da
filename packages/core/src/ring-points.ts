// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
import { fbiHash } from './fbi-hash.ts';

// The point arrays behind ConsistentHashRing: position halves (hi, lo) sorted ascending, and the
// owner of each point as a slot index into the ring's slot table. Ties at one position are ordered
// by member name, so a full build and any sequence of incremental changes give the same arrays.

export interface RingPoints {
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  /** Slot of each point's member (for a full build: the member's rank in the sorted list). */
  readonly owner: Uint32Array;
}

/** Integers below 2^53 are exact in a double: a 32-bit position half times 2^21 plus an index below 2^21. */
const PACK_INDEX_LIMIT = 2 ** 21;

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Every point of `sorted` (sorted, unique members) x `vnodes`, in ring order. Owners are ranks in
 * `sorted`. Pure and synchronous: it runs on the event loop for small rings and in a worker for big ones.
 */
export function buildRingPoints(sorted: readonly string[], vnodes: number): RingPoints {
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
  // Points were generated member by member, so point index / vnodes is the member's rank: ordering
  // by (position, index) breaks ties by member name.
  const order = sortedOrder(hi, lo, count);
  const out: RingPoints = { hi: new Uint32Array(count), lo: new Uint32Array(count), owner: new Uint32Array(count) };
  for (let i = 0; i < count; i++) {
    const p = order[i]!;
    out.hi[i] = hi[p]!;
    out.lo[i] = lo[p]!;
    out.owner[i] = Math.floor(p / vnodes);
  }
  return out;
}

/** Point indices ordered by (hi, lo, index). */
function sortedOrder(hi: Uint32Array, lo: Uint32Array, count: number): Uint32Array {
  const order = new Uint32Array(count);
  if (count >= PACK_INDEX_LIMIT) {
    for (let i = 0; i < count; i++) order[i] = i;
    order.sort((a, b) => hi[a]! - hi[b]! || lo[a]! - lo[b]! || a - b);
    return order;
  }
  // A comparator sort over 1.6M points costs seconds; a typed array's own numeric sort of
  // (hi * 2^21 + index) costs a tenth of that and orders by (hi, index). Runs sharing a hi (a
  // shared position, or rarely a different lo) are then re-ordered by (lo, index) in place.
  const keys = new Float64Array(count);
  for (let i = 0; i < count; i++) keys[i] = hi[i]! * PACK_INDEX_LIMIT + i;
  keys.sort();
  for (let i = 0; i < count; i++) order[i] = keys[i]! % PACK_INDEX_LIMIT;
  let start = 0;
  while (start < count) {
    const h = hi[order[start]!]!;
    let end = start + 1;
    while (end < count && hi[order[end]!]! === h) end++;
    if (end - start > 1) insertionSortByLo(order, lo, start, end);
    start = end;
  }
  return order;
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

interface NewPoint {
  hi: number;
  lo: number;
  name: string;
  slot: number;
}

/**
 * `points` without the points of `removedSlots` and with `vnodes` points for each of `added` (member
 * name and the slot it takes), in the order a full build of the resulting members would give them.
 * `slotName` names the member of every slot in use. Cost: O(changes x vnodes x log n) plus one copy.
 */
export function changeRingPoints(
  points: RingPoints,
  slotName: readonly string[],
  removedSlots: ReadonlyMap<string, number>,
  added: readonly { name: string; slot: number }[],
  vnodes: number,
): RingPoints {
  const { hi, lo, owner } = points;
  // Points to drop: recompute each leaving member's positions and find its points among the ties there.
  const drop: number[] = [];
  for (const [name, slot] of removedSlots) {
    for (let i = 0; i < vnodes; i++) {
      const h = fbiHash(`${name}:${i}`);
      for (let p = lowerBound(hi, lo, h.hi, h.lo); p < hi.length && hi[p] === h.hi && lo[p] === h.lo; p++) {
        if (owner[p] === slot) drop.push(p);
      }
    }
  }
  // A member whose own vnodes share a position finds that run twice.
  const dropped = [...new Set(drop)].sort((a, b) => a - b);
  const fresh: NewPoint[] = [];
  for (const a of added) {
    for (let i = 0; i < vnodes; i++) {
      const h = fbiHash(`${a.name}:${i}`);
      fresh.push({ hi: h.hi, lo: h.lo, name: a.name, slot: a.slot });
    }
  }
  // Same member at the same position: stable sort keeps vnode order, which is what a full build does.
  fresh.sort((x, y) => x.hi - y.hi || x.lo - y.lo || compareStrings(x.name, y.name));

  const count = hi.length - dropped.length + fresh.length;
  const out: RingPoints = { hi: new Uint32Array(count), lo: new Uint32Array(count), owner: new Uint32Array(count) };
  let read = 0;
  let write = 0;
  let d = 0;
  // Copies old points [read, end) except dropped ones, in bulk between the dropped indices.
  const copyOld = (end: number) => {
    while (read < end) {
      while (d < dropped.length && dropped[d]! < read) d++;
      const stop = d < dropped.length && dropped[d]! < end ? dropped[d]! : end;
      if (stop > read) {
        out.hi.set(hi.subarray(read, stop), write);
        out.lo.set(lo.subarray(read, stop), write);
        out.owner.set(owner.subarray(read, stop), write);
        write += stop - read;
        read = stop;
      }
      if (read < end && d < dropped.length && dropped[d] === read) {
        read++;
        d++;
      }
    }
  };
  for (const f of fresh) {
    // The new point goes before the first old point that sorts after it: a higher position, or the
    // same position held by a member whose name sorts after the new one.
    let at = lowerBound(hi, lo, f.hi, f.lo);
    while (at < hi.length && hi[at] === f.hi && lo[at] === f.lo && compareStrings(slotName[owner[at]!]!, f.name) < 0) {
      at++;
    }
    copyOld(Math.max(at, read));
    out.hi[write] = f.hi;
    out.lo[write] = f.lo;
    out.owner[write] = f.slot;
    write++;
  }
  copyOld(hi.length);
  return out;
}
