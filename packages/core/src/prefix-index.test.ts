import { describe, expect, test } from 'vitest';
import { PREFIX_MAX_BLOCKS, PREFIX_PODS_PER_BLOCK, PrefixIndex, prefixColdHash, prefixKey } from './prefix-index.ts';
import { ConsistentHashRing } from './ring.ts';

const B = 8;
const key = (text: string) => prefixKey(text, B);

describe('prefixKey', () => {
  test('one hash per block plus a partial tail; each hash covers the whole prefix', () => {
    const k = key('abcdefghijklmnopqrs'); // 19 chars: blocks 0-7, 8-15, tail 16-18
    expect(k.hashes).toHaveLength(3);
    expect(k.chars).toBe(19);
    // Shared start: same first two hashes; a different first block changes every hash after it.
    const same = key('abcdefghijklmnopXYZ');
    expect(same.hashes.slice(0, 2)).toEqual(k.hashes.slice(0, 2));
    expect(same.hashes[2]).not.toBe(k.hashes[2]);
    const other = key('Xbcdefghijklmnopqrs');
    for (let i = 0; i < 3; i++) expect(other.hashes[i]).not.toBe(k.hashes[i]);
  });

  test('any UTF-16 text and any block size: the chain depends on every code unit up to its block', () => {
    const texts = [
      '日本語のシステムプロンプト、'.repeat(5),
      '🙂 emoji 🙂'.repeat(7),
      `lone \ud800 surrogate ${'x'.repeat(40)}`,
    ];
    for (const blockChars of [4, 7, 8, 128]) {
      for (const t of texts) {
        const k = prefixKey(t, blockChars);
        expect(k.hashes).toHaveLength(Math.ceil(t.length / blockChars));
        expect(prefixKey(t, blockChars)).toEqual(k);
        // Same start: equal hashes up to the block the change falls in, different from there on.
        const at = Math.floor(t.length / 2);
        const changed = prefixKey(
          `${t.slice(0, at)}${t.charCodeAt(at) === 65 ? 'B' : 'A'}${t.slice(at + 1)}`,
          blockChars,
        );
        const block = Math.floor(at / blockChars);
        expect(changed.hashes.slice(0, block)).toEqual(k.hashes.slice(0, block));
        for (let i = block; i < k.hashes.length; i++) expect(changed.hashes[i]).not.toBe(k.hashes[i]);
      }
    }
  });

  test('empty text has no blocks; very long text is capped', () => {
    expect(key('').hashes).toHaveLength(0);
    const long = prefixKey('x'.repeat(64 * PREFIX_MAX_BLOCKS + 500), 64);
    expect(long.hashes).toHaveLength(PREFIX_MAX_BLOCKS);
    expect(long.chars).toBe(64 * PREFIX_MAX_BLOCKS);
  });

  test('hashes are 30-bit integers (small-integer Map keys) that rarely collide', () => {
    for (const h of key('the quick brown fox jumps over the lazy dog').hashes) {
      expect(Number.isInteger(h) && h >= 0 && h < 2 ** 30).toBe(true);
    }
    // 50,000 prompts differing in one character: about 1 pair expected to share a 30-bit hash.
    const seen = new Set<number>();
    for (let i = 0; i < 50_000; i++) seen.add(prefixKey(`user ${i}: hello`, 64).hashes[0] as number);
    expect(seen.size).toBeGreaterThan(49_990);
    // A character's position matters, not only its presence.
    expect(key('ab').hashes).not.toEqual(key('ba').hashes);
  });
});

describe('prefixColdHash', () => {
  test('texts with the same first block share a ring position; other first blocks spread over the ring', () => {
    const system = 'You are a terse assistant. '.repeat(10);
    const a = prefixColdHash(prefixKey(`${system}user: hi`));
    expect(prefixColdHash(prefixKey(`${system}user: something else entirely`))).toEqual(a);
    expect(prefixColdHash(prefixKey(`X${system}user: hi`))).not.toEqual(a);
    expect(Number.isInteger(a.hi) && a.hi >= 0 && a.hi < 2 ** 32).toBe(true);
    expect(Number.isInteger(a.lo) && a.lo >= 0 && a.lo < 2 ** 32).toBe(true);
    const ring = new ConsistentHashRing(Array.from({ length: 8 }, (_, i) => `http://p${i}:8000`));
    const owners = new Set<string>();
    for (let i = 0; i < 200; i++) owners.add(ring.ownerOfHash(prefixColdHash(prefixKey(`system prompt ${i}`))) ?? '');
    expect(owners.size).toBe(8);
    // An empty key still has a position (the cold path of a request with no text).
    expect(prefixColdHash(prefixKey(''))).toEqual(prefixColdHash(prefixKey('')));
  });
});

describe('PrefixIndex', () => {
  test('the score is the matched prefix length on each pod', () => {
    const idx = new PrefixIndex({ maxChars: 10_000, blockChars: B });
    idx.record(key('system prompt A. user: hello there'), 'p1');
    idx.record(key('system prompt A. user: something else'), 'p2');
    const m = idx.match(key('system prompt A. user: hello there, again'));
    // p1 shares "system prompt A. user: hello ther" up to the last full block it served (32 chars).
    expect(m.get('p1')).toBe(32);
    // p2's third block (" user: s") differs: it shares the first two ("system prompt A.") = 16 chars.
    expect(m.get('p2')).toBe(16);
    expect(idx.match(key('completely different')).size).toBe(0);
  });

  test('an identical short text matches in full through its tail block', () => {
    const idx = new PrefixIndex({ maxChars: 10_000, blockChars: B });
    idx.record(key('hello'), 'p1');
    expect(idx.match(key('hello')).get('p1')).toBe(5);
    expect(idx.match(key('hellO')).size).toBe(0);
  });

  test('a pod must hold the blocks from the start: a gap ends its run', () => {
    const idx = new PrefixIndex({ maxChars: 10_000, blockChars: B });
    const text = 'aaaaaaaabbbbbbbbcccccccc';
    idx.record(key(text), 'p1');
    idx.record(key('aaaaaaaa'), 'p2');
    const m = idx.match(key(text));
    expect(m.get('p1')).toBe(24);
    expect(m.get('p2')).toBe(8);
    expect(idx.match(key(text), new Set(['p2']))).toEqual(new Map([['p2', 8]]));
  });

  test('sweep drops the least recently used generation when over budget, keeping the freshest prefixes', () => {
    // Budget 32 chars = 4 blocks of 8.
    const idx = new PrefixIndex({ maxChars: 32, blockChars: B });
    idx.record(key('0000000011111111'), 'p1'); // 2 blocks
    idx.record(key('2222222233333333'), 'p1'); // 2 blocks: the young generation is full
    expect(idx.sweep()).toBe(0); // at budget, not over it
    idx.record(key('4444444455555555'), 'p1'); // would pass the budget: a new generation starts
    expect(idx.entries).toBe(6);
    expect(idx.chars).toBe(48);
    expect(idx.match(key('0000000011111111')).get('p1')).toBe(16); // still known until the sweep
    expect(idx.sweep()).toBe(4);
    expect(idx.chars).toBe(16);
    expect(idx.match(key('0000000011111111')).size).toBe(0);
    expect(idx.match(key('4444444455555555')).get('p1')).toBe(16);
    expect(idx.bytes).toBeGreaterThan(0);
  });

  test('record enforces twice the budget at once, whatever the sweep interval', () => {
    const idx = new PrefixIndex({ maxChars: 32, blockChars: B });
    for (let i = 0; i < 100; i++) idx.record(key(`${String(i).padStart(8, '0')}xxxxxxxx`), 'p1');
    expect(idx.chars).toBeLessThanOrEqual(64);
    expect(idx.entries).toBeLessThanOrEqual(8);
  });

  test('a prefix in use survives: serving it again moves it to the young generation', () => {
    const idx = new PrefixIndex({ maxChars: 32, blockChars: B });
    const hot = key('hhhhhhhhiiiiiiii');
    idx.record(hot, 'p1');
    idx.record(key('0000000011111111'), 'p1');
    idx.record(key('2222222233333333'), 'p1'); // rotation: hot and 0/1 are old now
    idx.record(hot, 'p2'); // promoted, and p2 added
    idx.sweep();
    expect(idx.match(hot)).toEqual(
      new Map([
        ['p1', 16],
        ['p2', 16],
      ]),
    );
    expect(idx.match(key('0000000011111111')).size).toBe(0);
    expect(idx.chars).toBe(48); // 2 blocks x 2 pods + 2 blocks x 1 pod
  });

  test('a block remembers at most a few pods, the most recent ones', () => {
    const idx = new PrefixIndex({ maxChars: 100_000, blockChars: B });
    const k = key('shared prefix');
    for (let i = 0; i <= PREFIX_PODS_PER_BLOCK; i++) idx.record(k, `p${i}`);
    const m = idx.match(k);
    expect(m.size).toBe(PREFIX_PODS_PER_BLOCK);
    expect(m.has('p0')).toBe(false);
    expect(m.has(`p${PREFIX_PODS_PER_BLOCK}`)).toBe(true);
    // Serving again refreshes, never duplicates.
    idx.record(k, 'p1');
    expect(idx.match(k).size).toBe(PREFIX_PODS_PER_BLOCK);
  });

  test('retainPods forgets pods that left', () => {
    const idx = new PrefixIndex({ maxChars: 100_000, blockChars: B });
    const k = key('aaaaaaaabbbbbbbb');
    idx.record(k, 'p1');
    idx.record(k, 'p2');
    idx.record(key('cccccccc'), 'p2');
    expect(idx.retainPods(new Set(['p1']))).toBe(3);
    expect([...idx.match(k).keys()]).toEqual(['p1']);
    expect(idx.entries).toBe(2);
    // A pod that comes back starts cold.
    idx.record(key('dddddddd'), 'p2');
    expect(idx.match(k).has('p2')).toBe(false);
  });

  test('forgetPods forgets the pods named, as retainPods of the rest does', () => {
    const idx = new PrefixIndex({ maxChars: 100_000, blockChars: B });
    const k = key('aaaaaaaabbbbbbbb');
    idx.record(k, 'p1');
    idx.record(k, 'p2');
    idx.record(key('cccccccc'), 'p2');
    expect(idx.forgetPods(['p2', 'never-seen'])).toBe(3);
    expect([...idx.match(k).keys()]).toEqual(['p1']);
    expect(idx.entries).toBe(2);
    expect(idx.forgetPods(['p2'])).toBe(0);
  });

  test('refuses a budget that is not positive', () => {
    expect(() => new PrefixIndex({ maxChars: 0 })).toThrow(RangeError);
  });
});
