import { describe, expect, it } from 'vitest';
import { type KvEntry, KvStore } from './kv-store.ts';

const entry = (id: string, expiresAt: number): KvEntry => ({
  remoteRequestId: id,
  engineId: 'e',
  blockIds: [1, 2],
  promptTokens: 20,
  promptHash: 7,
  expiresAt,
});

describe('KvStore', () => {
  it('hands an entry out once, tells expired from missing, and releases blocks', () => {
    const released: string[] = [];
    const store = new KvStore((e) => released.push(e.remoteRequestId));
    store.put(entry('a', 100), 0);
    store.put(entry('b', 200), 0);
    const a = store.take('a', 50);
    expect(a.ok && a.entry.promptTokens).toBe(20);
    expect(store.take('a', 50)).toEqual({ ok: false, reason: 'missing' });
    expect(store.take('b', 250)).toEqual({ ok: false, reason: 'expired' });
    expect(store.take('never', 250)).toEqual({ ok: false, reason: 'missing' });
    expect(released).toEqual(['a', 'b']);
    store.put(entry('c', 1_000), 300);
    store.clear();
    expect(released).toEqual(['a', 'b', 'c']);
    expect(store.size).toBe(0);
  });
});
