import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConsistentHashRing, fbiHash, furc, murmur64a, u64ToHex } from '../src/index.ts';

interface HashVector {
  key: string;
  murmur64a_seed_4193360111: string;
  furc_8388607: number;
  fbi_hash: string;
}
interface RingVector {
  urls: string[];
  lookups: { key: string; owner: string }[];
}

// A copy of the published vllm-router vectors; PDROUTER_VECTORS=/path/file.json checks another set.
const vectorsPath = process.env.PDROUTER_VECTORS ?? join(import.meta.dirname, 'fixtures/vllm-router-ring.json');
const vectors = JSON.parse(readFileSync(vectorsPath, 'utf8')) as { hashes: HashVector[]; rings: RingVector[] };
const utf8 = new TextEncoder();

describe('vllm-router hash vectors', () => {
  test('the file holds vectors', () => {
    expect(vectors.hashes.length).toBeGreaterThan(0);
    expect(vectors.rings.length).toBeGreaterThan(0);
  });

  test.each(vectors.hashes.map((v) => [v.key.slice(0, 24), v] as const))('%s', (_name, v) => {
    const bytes = utf8.encode(v.key);
    expect(u64ToHex(murmur64a(bytes))).toBe(v.murmur64a_seed_4193360111);
    expect(furc(bytes, 8388607)).toBe(v.furc_8388607);
    expect(u64ToHex(fbiHash(v.key))).toBe(v.fbi_hash);
  });
});

describe('vllm-router ring vectors', () => {
  test.each(vectors.rings.map((r, i) => [i, r.urls.length, r] as const))('ring %i (%i members)', (_i, _n, r) => {
    const ring = new ConsistentHashRing(r.urls);
    for (const lookup of r.lookups) {
      expect({ key: lookup.key, owner: ring.owner(lookup.key) }).toEqual(lookup);
    }
  });

  test('a ring grown and shrunk a member at a time gives every vector owner', () => {
    for (const r of vectors.rings) {
      let ring = new ConsistentHashRing([]);
      for (let i = 1; i <= r.urls.length; i++) ring = ring.withMembers(r.urls.slice(0, i));
      ring = ring.withMembers([...r.urls, 'http://10.255.255.254:8000']).withMembers(r.urls);
      for (const lookup of r.lookups) expect(ring.owner(lookup.key)).toBe(lookup.owner);
    }
  });

  test('member order does not change any vector owner', () => {
    for (const r of vectors.rings) {
      const ring = new ConsistentHashRing([...r.urls].reverse());
      for (const lookup of r.lookups) expect(ring.owner(lookup.key)).toBe(lookup.owner);
    }
  });
});
