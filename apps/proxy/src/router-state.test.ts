import { ConsistentHashRing, type Snapshot } from '@pdrouter/core';
import { describe, expect, it } from 'vitest';
import { RouterState } from './router-state.ts';

function snapshot(seq: number, prefill: string[], decode: string[], extra: Partial<Snapshot> = {}): Snapshot {
  const member = (role: string) => (url: string, i: number) => ({
    name: `${role}-${i}`,
    uid: `uid-${role}-${i}`,
    url,
    ready: true,
  });
  return {
    pool: 'default',
    epoch: 1,
    seq,
    time: '2026-01-01T00:00:00.000Z',
    members: { prefill: prefill.map(member('p')), decode: decode.map(member('d')), plain: [] },
    ...extra,
  };
}

describe('RouterState', () => {
  it('builds one ring per role from a valid snapshot, keyed like vllm-router (by URL)', () => {
    const state = new RouterState({ vnodes: 160 });
    const r = state.apply(snapshot(1, ['http://10.0.0.2:8000', 'http://10.0.0.1:8000'], ['http://10.0.1.1:8200']));
    expect(r.ok).toBe(true);
    const t = state.table;
    expect(t?.members.prefill).toEqual(['http://10.0.0.1:8000', 'http://10.0.0.2:8000']);
    expect(t?.rings.prefill.fingerprint).toBe(
      new ConsistentHashRing(['http://10.0.0.1:8000', 'http://10.0.0.2:8000']).fingerprint,
    );
    expect(t?.rings.plain.members).toEqual([]);
    expect(Object.isFrozen(t)).toBe(true);
  });

  it('rejects invalid snapshots and keeps the last good one', () => {
    const state = new RouterState({ vnodes: 160 });
    state.apply(snapshot(1, ['http://10.0.0.1:8000'], ['http://10.0.1.1:8200']));
    const good = state.table;
    const bad = state.apply({ pool: 'default', epoch: 1, seq: 2 });
    expect(bad).toMatchObject({ ok: false, reason: 'invalid' });
    expect(state.apply('not json')).toMatchObject({ ok: false, reason: 'invalid' });
    expect(state.table).toBe(good);
  });

  it('rejects snapshots that are not newer (epoch, seq)', () => {
    const state = new RouterState({ vnodes: 160 });
    state.apply(snapshot(5, ['http://10.0.0.1:8000'], ['http://10.0.1.1:8200']));
    expect(state.apply(snapshot(5, ['http://10.0.0.9:8000'], []))).toMatchObject({ ok: false, reason: 'stale' });
    expect(state.apply(snapshot(4, ['http://10.0.0.9:8000'], []))).toMatchObject({ ok: false, reason: 'stale' });
    expect(state.apply(snapshot(1, ['http://10.0.0.9:8000'], [], { epoch: 2 })).ok).toBe(true);
  });

  it('swaps the whole table; a request holding the old one keeps its pods', () => {
    const state = new RouterState({ vnodes: 160 });
    state.apply(snapshot(1, ['http://10.0.0.1:8000'], ['http://10.0.1.1:8200']));
    const held = state.table;
    state.apply(snapshot(2, ['http://10.0.0.7:8000'], ['http://10.0.1.7:8200']));
    expect(held?.members.prefill).toEqual(['http://10.0.0.1:8000']);
    expect(state.table?.members.prefill).toEqual(['http://10.0.0.7:8000']);
  });

  it('reuses a role ring whose members did not change (heartbeats cost no rebuild)', () => {
    const state = new RouterState({ vnodes: 160 });
    state.apply(snapshot(1, ['http://10.0.0.1:8000'], ['http://10.0.1.1:8200']));
    const before = state.table;
    state.apply(snapshot(2, ['http://10.0.0.1:8000'], ['http://10.0.1.1:8200', 'http://10.0.1.2:8200']));
    expect(state.table?.rings.prefill).toBe(before?.rings.prefill);
    expect(state.table?.rings.decode).not.toBe(before?.rings.decode);
  });

  it('leaves not-ready members off the rings', () => {
    const state = new RouterState({ vnodes: 160 });
    const s = snapshot(1, ['http://10.0.0.1:8000', 'http://10.0.0.2:8000'], ['http://10.0.1.1:8200']);
    (s.members.prefill[1] as { ready: boolean }).ready = false;
    state.apply(s);
    expect(state.table?.members.prefill).toEqual(['http://10.0.0.1:8000']);
  });
});
