import { describe, expect, it } from 'vitest';
import { encodeLoadMessage, parseLoadMessage } from './fleet-load.ts';
import { PREFIX_BLOCK_CHARS, PrefixIndex, prefixKey } from './prefix-index.ts';
import { LEARNED_MAX_HASHES, LearnedBatch, learnedCompatible, PREFIX_HASH_ID, parseLearned } from './prefix-share.ts';

const system = 'You are a careful assistant. Answer in one sentence. '.repeat(12);

describe('PrefixIndex.record news', () => {
  it('reports the blocks that did not name the pod before, once', () => {
    const index = new PrefixIndex({ maxChars: 1 << 20 });
    const first = prefixKey(`${system}user: one`);
    const news: number[] = [];
    index.record(first, 'a', news);
    expect(news).toEqual(first.hashes);
    news.length = 0;
    index.record(first, 'a', news);
    expect(news).toEqual([]);
    // Another pod serving the same prefix is news for every block; a longer turn only for its new blocks.
    index.record(first, 'b', news);
    expect(news).toEqual(first.hashes);
    news.length = 0;
    const second = prefixKey(`${system}user: one. assistant: sure. user: and then, tell me more about it please`);
    index.record(second, 'a', news);
    const shared = first.hashes.filter((h, i) => second.hashes[i] === h).length;
    expect(shared).toBeGreaterThan(0);
    expect(news).toEqual(second.hashes.slice(shared));
  });

  it('a block promoted from the old generation is news only when the pod is new to it', () => {
    const blockChars = 16;
    const index = new PrefixIndex({ maxChars: 5 * blockChars, blockChars });
    const a = prefixKey('a'.repeat(2 * blockChars), blockChars);
    index.record(a, 'p');
    index.record(prefixKey('b'.repeat(3 * blockChars), blockChars), 'p');
    // The young generation is full: it becomes the old one, holding `a`.
    index.record(prefixKey('c'.repeat(blockChars), blockChars), 'p');
    const news: number[] = [];
    index.record(a, 'p', news);
    expect(news).toEqual([]);
    index.record(a, 'q', news);
    expect(news).toEqual(a.hashes);
  });
});

describe('LearnedBatch', () => {
  it('collects per role and pod, drains once, and counts what did not fit', () => {
    const batch = new LearnedBatch({ maxHashes: 5, blockChars: PREFIX_BLOCK_CHARS });
    batch.add('prefill', 'http://p:1', [1, 2]);
    batch.add('decode', 'http://d:1', [3]);
    batch.add('prefill', 'http://p:1', [4, 5, 6, 7]);
    expect(batch.size).toBe(5);
    const { wire, dropped } = batch.drain();
    expect(dropped).toBe(2);
    expect(wire).toEqual({
      hash: PREFIX_HASH_ID,
      block: PREFIX_BLOCK_CHARS,
      prefill: { 'http://p:1': [1, 2, 4, 5] },
      decode: { 'http://d:1': [3] },
    });
    expect(batch.drain()).toEqual({ wire: undefined, dropped: 0 });
  });

  it('refuses a limit outside 1..LEARNED_MAX_HASHES', () => {
    expect(() => new LearnedBatch({ maxHashes: 0, blockChars: 128 })).toThrow(RangeError);
    expect(() => new LearnedBatch({ maxHashes: LEARNED_MAX_HASHES + 1, blockChars: 128 })).toThrow(RangeError);
  });
});

describe('learned blocks on the wire', () => {
  it('round-trips in a load message; a message without them still parses', () => {
    const batch = new LearnedBatch({ maxHashes: 100, blockChars: PREFIX_BLOCK_CHARS });
    const key = prefixKey(`${system}user: hi`);
    batch.add('decode', 'http://d:1', key.hashes);
    const text = encodeLoadMessage('r1', 7, [['http://d:1', 2]], batch.drain().wire);
    const r = parseLoadMessage(text);
    if (!r.ok) throw new Error(r.error);
    expect(r.message.pods.get('http://d:1')).toBe(2);
    const learned = r.message.learned;
    if (learned === undefined) throw new Error('the learned blocks did not survive the round trip');
    expect(learned.roles.get('decode')?.get('http://d:1')).toEqual(key.hashes);
    expect(learnedCompatible(learned, PREFIX_BLOCK_CHARS)).toBe(true);
    expect(learnedCompatible(learned, 64)).toBe(false);
    const plain = parseLoadMessage(encodeLoadMessage('r1', 8, [['http://d:1', 1]]));
    expect(plain.ok && plain.message.learned).toBe(undefined);
  });

  it('another hash (byte order, algorithm) is not compatible', () => {
    const r = parseLearned({ hash: 'pdr1-xx', block: PREFIX_BLOCK_CHARS, plain: { 'http://a:1': [1] } });
    expect(r.ok && learnedCompatible(r.learned, PREFIX_BLOCK_CHARS)).toBe(false);
  });

  const longList = { hash: 'x', block: 128, decode: { 'http://a:1': new Array(LEARNED_MAX_HASHES + 1).fill(1) } };
  it.each([
    [[], /must be an object/],
    [{ block: 128 }, /hash must be a string/],
    [{ hash: 'x', block: 0 }, /block must be an integer/],
    [{ hash: 'x', block: 128, prefil: {} }, /unknown role/],
    [{ hash: 'x', block: 128, decode: [] }, /must be an object of pod/],
    [{ hash: 'x', block: 128, decode: { '': [1] } }, /pod name must be/],
    [{ hash: 'x', block: 128, decode: { 'http://a:1': 5 } }, /must be an array/],
    [{ hash: 'x', block: 128, decode: { 'http://a:1': [-1] } }, /block hashes are integers/],
    [{ hash: 'x', block: 128, decode: { 'http://a:1': [2 ** 30] } }, /block hashes are integers/],
    [{ hash: 'x', block: 128, decode: { 'http://a:1': [1.5] } }, /block hashes are integers/],
    [longList, /more than/],
  ])('refuses case %#', (learned, error) => {
    const r = parseLearned(learned);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(error);
    // The whole load message is refused with it: checked whole before anything counts.
    const m = parseLoadMessage(JSON.stringify({ v: 1, replica: 'r', seq: 1, pods: {}, learned }));
    expect(m.ok).toBe(false);
  });
});
