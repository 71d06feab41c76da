import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConsistentHashRing, extractHashKey, headerLookupFrom } from '../src/index.ts';
import type { KeyVector } from './gen-vllm-router-keys.ts';
import { refRingOwner, refVllmRouterKey } from './vllm-router-key-reference.ts';

// Made by gen-vllm-router-keys.ts from the independent reference, not from src/.
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/vllm-router-keys.json'), 'utf8')) as {
  ring: string[];
  vectors: KeyVector[];
};
const ring = new ConsistentHashRing(fixture.ring);

describe('vllm-router hash keys (independent vectors)', () => {
  test('the file holds vectors for every router', () => {
    expect(new Set(fixture.vectors.map((v) => v.router))).toEqual(new Set(['pd', 'regular', 'vllm-pd']));
  });

  test.each(fixture.vectors.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const key = extractHashKey(headerLookupFrom(v.headers), v.body, { mode: 'vllm-router', router: v.router });
    expect(key).toBe(v.key);
    expect(ring.owner(key)).toBe(v.owner);
  });

  test('the fixture is what the reference computes today (regenerate it after changing the reference)', () => {
    for (const v of fixture.vectors.slice(0, 40)) {
      expect(refVllmRouterKey(v.router, v.headers, v.body)).toBe(v.key);
      expect(refRingOwner(fixture.ring, v.key)).toBe(v.owner);
    }
  });

  test('requests with a fresh x-request-id each (vllm bench serve) reach the pods vllm-router picks', () => {
    const bench = fixture.vectors.filter((v) => v.name.startsWith('bench '));
    expect(bench).toHaveLength(30);
    const agree = bench.filter(
      (v) => ring.owner(extractHashKey(headerLookupFrom(v.headers), v.body, { mode: 'vllm-router' })) === v.owner,
    );
    expect(agree).toHaveLength(30);
  });
});
