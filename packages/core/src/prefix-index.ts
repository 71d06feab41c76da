// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
// An approximate prefix-cache index (docs/design.md §3.6): which pods recently served which prefixes of
// the routing text. The text is cut into fixed-size blocks hashed as a chain (block i's hash covers the
// text from its start to the end of block i), so a block hash names a whole prefix, not a fragment; each
// hash maps to the pods that served a request with that prefix. It is approximate on purpose: it learns
// from the requests this router and its peer replicas sent (prefix-share.ts), never asks the pods, and
// forgets in LRU order within a budget.

import type { U64 } from './u64.ts';

/**
 * Characters per block: about two of vLLM's 16-token KV blocks of English text. Finer blocks buy routing
 * nothing and cost an index lookup each (docs/design.md §3.6, bench/results/decision-cost.md).
 */
export const PREFIX_BLOCK_CHARS = 128;
/** Blocks hashed per request: the first 524,288 characters (~130k tokens) decide; the rest adds nothing. */
export const PREFIX_MAX_BLOCKS = 4096;
/** Pods remembered per block: a prefix served by more pods than this keeps the most recent ones. */
export const PREFIX_PODS_PER_BLOCK = 8;

/** A request's routing text as the index sees it: the chain of block hashes and the length they cover. */
export interface PrefixKey {
  /** hashes[i] covers text[0, min((i+1) x blockChars, chars)). The last one may cover a partial block. */
  readonly hashes: readonly number[];
  /** Characters covered (the text's length, capped at PREFIX_MAX_BLOCKS blocks). */
  readonly chars: number;
}

const EMPTY_KEY: PrefixKey = Object.freeze({ hashes: Object.freeze([]) as readonly number[], chars: 0 });

/**
 * A reused UTF-16 copy of the text being hashed, read two code units per 32-bit word: one native copy
 * (Buffer's utf16le write) and half as many loads as charCodeAt per unit, measured 2-2.5x faster.
 * Offset 0 of its own ArrayBuffer, so the views are aligned.
 */
let units = Buffer.from(new ArrayBuffer(1 << 14));
let words = new Int32Array(units.buffer);
let halves = new Uint16Array(units.buffer);

function reserveUnits(chars: number): void {
  const bytes = chars * 2 + 8;
  if (units.length >= bytes) return;
  units = Buffer.from(new ArrayBuffer(Math.max(bytes, units.length * 2) & ~3));
  words = new Int32Array(units.buffer);
  halves = new Uint16Array(units.buffer);
}

/**
 * The block-hash chain of `text`: one pass over the UTF-16 code units, four per step in two independent
 * 32-bit lanes of two units each (xor, rotate, multiply: the lanes do not wait for each other), both lanes
 * folded and finalised at each block boundary and at the end (a trailing partial block, so a prompt
 * shorter than a block still matches itself). Hashes are 30-bit, so Map keys stay small integers (no
 * boxed numbers on the hot path). A collision can only credit a pod with one block beyond a prefix it
 * really holds (or a first block it does not): the chain makes a longer false match need collisions at
 * consecutive blocks. The hash is pdrouter's own: only pdrouter's proxy replicas read it (a word is read in
 * the platform's byte order, so the values differ between little- and big-endian machines; prefix-share.ts's
 * PREFIX_HASH_ID names the byte order, and replicas that differ ignore each other's blocks).
 */
export function prefixKey(text: string, blockChars = PREFIX_BLOCK_CHARS): PrefixKey {
  const chars = Math.min(text.length, blockChars * PREFIX_MAX_BLOCKS);
  if (chars === 0) return EMPTY_KEY;
  reserveUnits(chars);
  units.write(text, 0, chars * 2, 'utf16le');
  return hashUnits(chars, blockChars);
}

/**
 * prefixKey of the pieces' concatenation, without building it: each piece is copied into the hashing
 * buffer where the joined text would have it. `textChars` is the whole text's length (the key covers at
 * most PREFIX_MAX_BLOCKS blocks of it).
 */
export function prefixKeyOfPieces(
  pieces: readonly string[],
  blockChars = PREFIX_BLOCK_CHARS,
): { key: PrefixKey; textChars: number } {
  let textChars = 0;
  for (const p of pieces) textChars += p.length;
  const chars = Math.min(textChars, blockChars * PREFIX_MAX_BLOCKS);
  if (chars === 0) return { key: EMPTY_KEY, textChars };
  reserveUnits(chars);
  let at = 0;
  for (let k = 0; k < pieces.length && at < chars; k++) {
    const p = pieces[k]!;
    const n = Math.min(p.length, chars - at);
    if (n > 0) units.write(p, at * 2, n * 2, 'utf16le');
    at += n;
  }
  return { key: hashUnits(chars, blockChars), textChars };
}

/** The chain over the first `chars` units of the hashing buffer. */
function hashUnits(chars: number, blockChars: number): PrefixKey {
  const blocks = Math.ceil(chars / blockChars);
  const hashes = new Array<number>(blocks);
  const w = words;
  const u = halves;
  let a = 0x2f1d3c4b;
  let b = 0x6a09e667;
  let i = 0;
  for (let k = 0; k < blocks; k++) {
    const end = k + 1 === blocks ? chars : (k + 1) * blockChars;
    // Lanes start on a multiple of 4 units, so word i/2 holds units i and i+1.
    if ((i & 3) === 0) {
      for (; i + 3 < end; i += 4) {
        a ^= w[i >> 1]!;
        b ^= w[(i >> 1) + 1]!;
        a = Math.imul((a << 13) | (a >>> 19), 0x9e3779b1);
        b = Math.imul((b << 17) | (b >>> 15), 0x85ebca77);
      }
    }
    // The rest of a block that does not end on a multiple of 4 (for the default size, the last block).
    for (; i < end; i++) {
      a ^= u[i]!;
      a = Math.imul((a << 13) | (a >>> 19), 0x9e3779b1);
    }
    hashes[k] = finalise(a ^ Math.imul(b, 0xc2b2ae3d) ^ end);
  }
  return { hashes, chars };
}

/**
 * A ring position for the key's first block: where cache_aware sends a cold prefix, so every request
 * starting with the same text (a system prompt) walks the ring from the same point on every replica.
 */
export function prefixColdHash(key: PrefixKey): U64 {
  const h = key.hashes[0] ?? 0;
  return { hi: finalise32(h ^ 0x5bd1e995) >>> 0, lo: finalise32(h ^ 0x1b873593) >>> 0 };
}

/** murmur3's fmix32, cut to 30 bits (V8's small-integer range). */
function finalise(x: number): number {
  return finalise32(x) & 0x3fffffff;
}

function finalise32(x: number): number {
  let h = x ^ (x >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export interface PrefixIndexOptions {
  /** Budget in characters of routing text summed over pods (a block held by two pods counts twice). */
  readonly maxChars: number;
  readonly blockChars?: number;
}

/** Estimated heap bytes per block entry and per pod reference (V8 Map slot, small-integer key, small array). */
const ENTRY_BYTES = 48;
const REF_BYTES = 8;

type Pods = number | number[];

const holds = (e: Pods, id: number): boolean => (typeof e === 'number' ? e === id : e.includes(id));

/**
 * Block hash -> pods (interned ids, most recent last), kept in two generations: an LRU approximation that
 * never reorders a Map (deleting and re-inserting per block made Map rehashes, and the event loop paused
 * for them). A request's blocks go to the young generation (a block found in the old one moves up); when
 * the young generation would pass the budget it becomes the old one and a fresh young one starts, so the
 * index holds at most twice the budget. sweep() (on --eviction-interval, as vllm-router's eviction thread)
 * drops the old generation, the least recently used half, whenever the index is over budget.
 */
export class PrefixIndex {
  readonly blockChars: number;
  readonly maxChars: number;
  readonly maxEntries: number;
  private young = new Map<number, Pods>();
  private old = new Map<number, Pods>();
  private youngRefs = 0;
  private oldRefs = 0;
  private readonly podIds = new Map<string, number>();
  private readonly podNames: string[] = [];

  constructor(options: PrefixIndexOptions) {
    this.blockChars = options.blockChars ?? PREFIX_BLOCK_CHARS;
    if (!(Number.isInteger(this.blockChars) && this.blockChars > 0)) throw new RangeError('blockChars must be > 0');
    if (!(options.maxChars > 0)) throw new RangeError(`maxChars must be > 0, got ${options.maxChars}`);
    this.maxChars = options.maxChars;
    this.maxEntries = Math.max(1, Math.ceil(options.maxChars / this.blockChars));
  }

  /** Block entries held. */
  get entries(): number {
    return this.young.size + this.old.size;
  }

  /** Characters held, counted in whole blocks per pod reference. */
  get chars(): number {
    return (this.youngRefs + this.oldRefs) * this.blockChars;
  }

  /** Estimated heap bytes. */
  get bytes(): number {
    return this.entries * ENTRY_BYTES + (this.youngRefs + this.oldRefs) * REF_BYTES;
  }

  private get(h: number): Pods | undefined {
    return this.young.get(h) ?? this.old.get(h);
  }

  /**
   * Matched prefix length (characters) per pod: how far from the start the pod's run of served blocks
   * reaches. Pods with no match are absent. Only `candidates` (when given) are reported.
   */
  match(key: PrefixKey, candidates?: ReadonlySet<string>): Map<string, number> {
    const out = new Map<string, number>();
    const n = key.hashes.length;
    if (n === 0 || this.entries === 0) return out;
    const alive: number[] = [];
    const first = this.get(key.hashes[0]!);
    if (first === undefined) return out;
    for (const id of typeof first === 'number' ? [first] : first) {
      if (candidates === undefined || candidates.has(this.podNames[id]!)) alive.push(id);
    }
    let i = 1;
    for (; i < n && alive.length > 0; i++) {
      const e = this.get(key.hashes[i]!);
      if (e === undefined) break;
      // Compacted in place: no allocation per block.
      let kept = 0;
      for (let a = 0; a < alive.length; a++) {
        const id = alive[a]!;
        if (holds(e, id)) alive[kept++] = id;
        else out.set(this.podNames[id]!, Math.min(i * this.blockChars, key.chars));
      }
      alive.length = kept;
    }
    for (const id of alive) out.set(this.podNames[id]!, Math.min(i * this.blockChars, key.chars));
    return out;
  }

  /**
   * Learns that `pod` served the request: every block of the key now names it. The hashes of blocks that
   * did not name the pod before are pushed onto `news` when given (what other replicas are told).
   */
  record(key: PrefixKey, pod: string, news?: number[]): void {
    const n = key.hashes.length;
    if (n === 0) return;
    let id = this.podIds.get(pod);
    if (id === undefined) {
      id = this.podNames.length;
      this.podIds.set(pod, id);
      this.podNames.push(pod);
    }
    if ((this.youngRefs + n) * this.blockChars > this.maxChars || this.young.size + n > this.maxEntries) this.rotate();
    for (let i = 0; i < n; i++) {
      const h = key.hashes[i]!;
      const e = this.young.get(h);
      if (e !== undefined) {
        if (news !== undefined && !holds(e, id)) news.push(h);
        const next = this.withPod(e, id);
        if (next !== e) this.young.set(h, next);
        continue;
      }
      const promoted = this.old.get(h);
      if (promoted !== undefined) {
        if (news !== undefined && !holds(promoted, id)) news.push(h);
        this.old.delete(h);
        const refs = typeof promoted === 'number' ? 1 : promoted.length;
        this.oldRefs -= refs;
        this.youngRefs += refs;
        this.young.set(h, this.withPod(promoted, id));
        continue;
      }
      news?.push(h);
      this.young.set(h, id);
      this.youngRefs++;
    }
  }

  /** Over budget: drops the least recently used generation. Returns the entries removed. */
  sweep(): number {
    if (this.chars <= this.maxChars && this.entries <= this.maxEntries) return 0;
    const removed = this.old.size;
    this.old = new Map();
    this.oldRefs = 0;
    return removed;
  }

  /** Drops what the index knows about pods that are no longer members. Returns the references removed. */
  retainPods(members: ReadonlySet<string>): number {
    const gone = new Set<number>();
    for (const [name, id] of this.podIds) if (!members.has(name)) gone.add(id);
    return this.forgetIds(gone);
  }

  /** Drops what the index knows about `pods` (they left). Returns the references removed. */
  forgetPods(pods: readonly string[]): number {
    const gone = new Set<number>();
    for (const name of pods) {
      const id = this.podIds.get(name);
      if (id !== undefined) gone.add(id);
    }
    return this.forgetIds(gone);
  }

  private forgetIds(gone: ReadonlySet<number>): number {
    if (gone.size === 0) return 0;
    const young = this.forget(this.young, gone);
    const old = this.forget(this.old, gone);
    this.youngRefs -= young;
    this.oldRefs -= old;
    // Ids are not reused: a pod that comes back gets a fresh one, so no stale reference can name it.
    for (const id of gone) this.podIds.delete(this.podNames[id]!);
    return young + old;
  }

  private forget(blocks: Map<number, Pods>, gone: ReadonlySet<number>): number {
    let removed = 0;
    for (const [h, e] of blocks) {
      if (typeof e === 'number') {
        if (gone.has(e)) {
          blocks.delete(h);
          removed++;
        }
        continue;
      }
      const kept = e.filter((id) => !gone.has(id));
      removed += e.length - kept.length;
      if (kept.length === 0) blocks.delete(h);
      else if (kept.length < e.length) blocks.set(h, kept.length === 1 ? kept[0]! : kept);
    }
    return removed;
  }

  private rotate(): void {
    this.old = this.young;
    this.oldRefs = this.youngRefs;
    this.young = new Map();
    this.youngRefs = 0;
  }

  /** `e` with pod `id` added (most recent last), counting a new reference in the young generation. */
  private withPod(e: Pods, id: number): Pods {
    if (typeof e === 'number') {
      if (e === id) return e;
      this.youngRefs++;
      return [e, id];
    }
    const at = e.indexOf(id);
    if (at === e.length - 1) return e;
    if (at >= 0) {
      e.splice(at, 1);
      e.push(id);
      return e;
    }
    e.push(id);
    if (e.length > PREFIX_PODS_PER_BLOCK) e.shift();
    else this.youngRefs++;
    return e;
  }
}
