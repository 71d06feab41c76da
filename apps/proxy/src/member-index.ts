// Ring key -> member for one routing table. Tables are immutable and a request keeps the one it
// started with, so a new table cannot edit the previous one's map; copying a 10,000-entry map for a
// one-pod change would cost more than the rest of the change. A MemberIndex is instead a shared base
// map plus a small overlay of the keys changed since the base, folded into a new base once the
// overlay has grown to a share of it.
import type { Member } from '@pdrouter/core';

/** The overlay is folded into a new base once it holds more than this many keys and a quarter of the base. */
const FOLD_MIN_KEYS = 256;

export class MemberIndex implements ReadonlyMap<string, Member> {
  readonly #base: ReadonlyMap<string, Member>;
  /** Keys changed since the base: the member now, or undefined for a key removed. */
  readonly #overlay: ReadonlyMap<string, Member | undefined>;
  readonly size: number;

  /** Use MemberIndex.of() or changed(); `overlay` holds keys changed since `base`. */
  private constructor(base: ReadonlyMap<string, Member>, overlay: ReadonlyMap<string, Member | undefined>) {
    this.#base = base;
    this.#overlay = overlay;
    let size = base.size;
    for (const [key, m] of overlay) size += (m === undefined ? 0 : 1) - (base.has(key) ? 1 : 0);
    this.size = size;
  }

  /** An index over `map`, which it takes over: the caller must not change it afterwards. */
  static of(map: ReadonlyMap<string, Member>): MemberIndex {
    return new MemberIndex(map, new Map());
  }

  /** This index with `removed` keys gone and `added` set (applied after the removals). */
  changed(removed: Iterable<string>, added: Iterable<readonly [string, Member]>): MemberIndex {
    const overlay = new Map(this.#overlay);
    for (const key of removed) overlay.set(key, undefined);
    for (const [key, m] of added) overlay.set(key, m);
    if (overlay.size <= Math.max(FOLD_MIN_KEYS, this.#base.size / 4)) return new MemberIndex(this.#base, overlay);
    const base = new Map(this.#base);
    for (const [key, m] of overlay) {
      if (m === undefined) base.delete(key);
      else base.set(key, m);
    }
    return new MemberIndex(base, new Map());
  }

  get(key: string): Member | undefined {
    return this.#overlay.has(key) ? this.#overlay.get(key) : this.#base.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  *entries(): MapIterator<[string, Member]> {
    for (const [key, m] of this.#base) if (!this.#overlay.has(key)) yield [key, m];
    for (const [key, m] of this.#overlay) if (m !== undefined) yield [key, m];
  }

  *keys(): MapIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<Member> {
    for (const [, m] of this.entries()) yield m;
  }

  [Symbol.iterator](): MapIterator<[string, Member]> {
    return this.entries();
  }

  forEach(fn: (value: Member, key: string, map: ReadonlyMap<string, Member>) => void, thisArg?: unknown): void {
    for (const [key, m] of this.entries()) fn.call(thisArg, m, key, this);
  }
}
