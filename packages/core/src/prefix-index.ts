// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
// An approximate prefix-cache index (docs/design.md §3.6): which pods recently served which prefixes of
// the routing text. The text is cut into fixed-size blocks hashed as a chain (block i's hash covers the
// text from its start to the end of block i), so a block hash names a whole prefix, not a fragment; each
// hash maps to the pods that served a request with that prefix. It is approximate on purpose: it learns
// from the requests this router sent, never asks the pods, and forgets in LRU order within a budget.

/** Characters per block: vLLM's 16-token KV block is about 64 characters of English text. */
export const PREFIX_BLOCK_CHARS = 64;
/** Blocks hashed per request: the first 262,144 characters (~65k tokens) decide; the rest adds nothing. */
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
 * The block-hash chain of `text`: one pass over the UTF-16 code units with a 53-bit mixing hash
 * (two 32-bit lanes, murmur-style multipliers), finalised at each block boundary and at the end (a
 * trailing partial block, so a prompt shorter than a block still matches itself).
 */
export function prefixKey(text: string, blockChars = PREFIX_BLOCK_CHARS): PrefixKey {
  const chars = Math.min(text.length, blockChars * PREFIX_MAX_BLOCKS);
  if (chars === 0) return EMPTY_KEY;
  const hashes: number[] = [];
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < chars; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
    if ((i + 1) % blockChars === 0 || i + 1 === chars) hashes.push(finalise(h1, h2));
  }
  return { hashes, chars };
}

function finalise(a: number, b: number): number {
  let h1 = Math.imul(a ^ (a >>> 16), 2246822507);
  h1 ^= Math.imul(b ^ (b >>> 13), 3266489909);
  let h2 = Math.imul(b ^ (b >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

export interface PrefixIndexOptions {
  /** Budget in characters of routing text summed over pods (a block held by two pods counts twice). */
  readonly maxChars: number;
  readonly blockChars?: number;
}

/** Estimated heap bytes per block entry and per pod reference (V8 Map slot, boxed key, small array). */
const ENTRY_BYTES = 64;
const REF_BYTES = 8;

/**
 * Block hash -> pods (interned ids, oldest first), in a Map whose insertion order is the LRU order. The
 * budget is enforced twice: sweep() (on --eviction-interval, as vllm-router's eviction thread) trims to
 * it, and record() trims at twice it, so memory stays bounded however long the interval.
 */
export class PrefixIndex {
  readonly blockChars: number;
  readonly maxChars: number;
  readonly maxEntries: number;
  private readonly blocks = new Map<number, number | number[]>();
  private readonly podIds = new Map<string, number>();
  private readonly podNames: string[] = [];
  private refs = 0;

  constructor(options: PrefixIndexOptions) {
    this.blockChars = options.blockChars ?? PREFIX_BLOCK_CHARS;
    if (!(Number.isInteger(this.blockChars) && this.blockChars > 0)) throw new RangeError('blockChars must be > 0');
    if (!(options.maxChars > 0)) throw new RangeError(`maxChars must be > 0, got ${options.maxChars}`);
    this.maxChars = options.maxChars;
    this.maxEntries = Math.max(1, Math.ceil(options.maxChars / this.blockChars));
  }

  /** Block entries held. */
  get entries(): number {
    return this.blocks.size;
  }

  /** Characters held, counted in whole blocks per pod reference. */
  get chars(): number {
    return this.refs * this.blockChars;
  }

  /** Estimated heap bytes. */
  get bytes(): number {
    return this.blocks.size * ENTRY_BYTES + this.refs * REF_BYTES;
  }

  /**
   * Matched prefix length (characters) per pod: how far from the start the pod's run of served blocks
   * reaches. Pods with no match are absent. Only `candidates` (when given) are reported.
   */
  match(key: PrefixKey, candidates?: ReadonlySet<string>): Map<string, number> {
    const out = new Map<string, number>();
    const n = key.hashes.length;
    if (n === 0 || this.blocks.size === 0) return out;
    // runs: pod id -> blocks matched so far; a pod stays alive while block i holds it.
    let alive: number[] = [];
    const first = this.blocks.get(key.hashes[0]!);
    if (first === undefined) return out;
    for (const id of typeof first === 'number' ? [first] : first) {
      if (candidates === undefined || candidates.has(this.podNames[id]!)) alive.push(id);
    }
    let i = 1;
    for (; i < n && alive.length > 0; i++) {
      const e = this.blocks.get(key.hashes[i]!);
      if (e === undefined) break;
      const next: number[] = [];
      for (const id of alive) {
        if (typeof e === 'number' ? e === id : e.includes(id)) next.push(id);
        else out.set(this.podNames[id]!, Math.min(i * this.blockChars, key.chars));
      }
      alive = next;
    }
    for (const id of alive) out.set(this.podNames[id]!, Math.min(i * this.blockChars, key.chars));
    return out;
  }

  /** Learns that `pod` served the request: every block of the key now names it, freshest at the front. */
  record(key: PrefixKey, pod: string): void {
    const n = key.hashes.length;
    if (n === 0) return;
    let id = this.podIds.get(pod);
    if (id === undefined) {
      id = this.podNames.length;
      this.podIds.set(pod, id);
      this.podNames.push(pod);
    }
    // Deepest block first, so the shared start of a prefix is the most recently used and is evicted last:
    // evicting block 0 would strand every block after it.
    for (let i = n - 1; i >= 0; i--) {
      const h = key.hashes[i]!;
      const e = this.blocks.get(h);
      if (e === undefined) {
        this.blocks.set(h, id);
        this.refs++;
        continue;
      }
      this.blocks.delete(h);
      this.blocks.set(h, this.withPod(e, id));
    }
    if (this.refs * this.blockChars > 2 * this.maxChars || this.blocks.size > 2 * this.maxEntries) this.trim();
  }

  /** Trims to the budget, oldest blocks first; returns the entries removed. */
  sweep(): number {
    return this.trim();
  }

  /** Drops what the index knows about pods that are no longer members. Returns the references removed. */
  retainPods(members: ReadonlySet<string>): number {
    const gone = new Set<number>();
    for (const [name, id] of this.podIds) if (!members.has(name)) gone.add(id);
    if (gone.size === 0) return 0;
    let removed = 0;
    for (const [h, e] of this.blocks) {
      if (typeof e === 'number') {
        if (gone.has(e)) {
          this.blocks.delete(h);
          removed++;
        }
        continue;
      }
      const kept = e.filter((id) => !gone.has(id));
      removed += e.length - kept.length;
      if (kept.length === 0) this.blocks.delete(h);
      else if (kept.length < e.length) this.blocks.set(h, kept.length === 1 ? kept[0]! : kept);
    }
    this.refs -= removed;
    // Ids are not reused: a pod that comes back gets a fresh one, so no stale reference can name it.
    for (const id of gone) this.podIds.delete(this.podNames[id]!);
    return removed;
  }

  private withPod(e: number | number[], id: number): number | number[] {
    if (typeof e === 'number') {
      if (e === id) return e;
      this.refs++;
      return [e, id];
    }
    const at = e.indexOf(id);
    if (at >= 0) {
      // Most recent last.
      e.splice(at, 1);
      e.push(id);
      return e;
    }
    e.push(id);
    if (e.length > PREFIX_PODS_PER_BLOCK) e.shift();
    else this.refs++;
    return e;
  }

  private trim(): number {
    let removed = 0;
    for (const [h, e] of this.blocks) {
      if (this.refs * this.blockChars <= this.maxChars && this.blocks.size <= this.maxEntries) break;
      this.blocks.delete(h);
      this.refs -= typeof e === 'number' ? 1 : e.length;
      removed++;
    }
    return removed;
  }
}
