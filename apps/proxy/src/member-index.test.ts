import type { Member } from '@pdrouter/core';
import { describe, expect, it } from 'vitest';
import { MemberIndex } from './member-index.ts';

const member = (key: string, n: number): Member => ({ name: `${key}-${n}`, uid: `u${n}`, url: key, ready: true });

describe('MemberIndex', () => {
  it('after any chain of changes reads as a map edited the same way, before and after folding', () => {
    const model = new Map<string, Member>();
    for (let i = 0; i < 50; i++) model.set(`http://10.0.0.${i}:1`, member(`http://10.0.0.${i}:1`, i));
    let index = MemberIndex.of(new Map(model));
    const held: [MemberIndex, Map<string, Member>][] = [];
    // A deterministic walk of 1,000 changes: more than enough to fold the overlay several times.
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 0; step < 1_000; step++) {
      const keys = [...model.keys()];
      const removed = keys.length > 0 && next(2) === 0 ? [keys[next(keys.length)] as string] : [];
      const key = `http://10.0.${next(4)}.${next(100)}:1`;
      const added: [string, Member][] = next(3) === 0 ? [] : [[key, member(key, step)]];
      for (const k of removed) model.delete(k);
      for (const [k, m] of added) model.set(k, m);
      index = index.changed(removed, added);
      expect(index.size).toBe(model.size);
      if (step % 97 === 0) held.push([index, new Map(model)]);
    }
    expect(new Map(index)).toEqual(model);
    expect([...index.keys()].sort()).toEqual([...model.keys()].sort());
    expect(index.get('http://absent:1')).toBeUndefined();
    // Indexes of earlier tables still read as they did: a change never edits one in place.
    for (const [old, snapshot] of held) {
      expect(new Map(old.entries())).toEqual(snapshot);
      for (const [k, m] of snapshot) expect(old.get(k)).toBe(m);
    }
  });
});
