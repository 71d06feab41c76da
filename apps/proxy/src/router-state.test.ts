import { ConsistentHashRing, membershipSum, parseSnapshot, type Snapshot, snapshotFingerprint } from '@pdrouter/core';
import { describe, expect, it } from 'vitest';
import { RingBuilder } from './ring-builder.ts';
import { RouterState } from './router-state.ts';
import { validatedSnapshot } from './snapshot-source.ts';

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

describe('RouterState', async () => {
  it('builds one ring per role from a valid snapshot, keyed like vllm-router (by URL)', async () => {
    const state = new RouterState({ vnodes: 160 });
    const r = await state.apply(
      snapshot(1, ['http://10.0.0.2:8000', 'http://10.0.0.1:8000'], ['http://10.0.1.1:8200']),
    );
    expect(r.ok).toBe(true);
    const t = state.table;
    expect(t?.members.prefill).toEqual(['http://10.0.0.1:8000', 'http://10.0.0.2:8000']);
    expect(t?.rings.prefill.fingerprint).toBe(
      new ConsistentHashRing(['http://10.0.0.1:8000', 'http://10.0.0.2:8000']).fingerprint,
    );
    expect(t?.rings.plain.members).toEqual([]);
    expect(Object.isFrozen(t)).toBe(true);
  });

  it('rejects invalid snapshots and keeps the last good one', async () => {
    const state = new RouterState({ vnodes: 160 });
    await state.apply(snapshot(1, ['http://10.0.0.1:8000'], ['http://10.0.1.1:8200']));
    const good = state.table;
    const bad = await state.apply({ pool: 'default', epoch: 1, seq: 2 });
    expect(bad).toMatchObject({ ok: false, reason: 'invalid' });
    expect(await state.apply('not json')).toMatchObject({ ok: false, reason: 'invalid' });
    expect(state.table).toBe(good);
  });

  it('rejects snapshots that are not newer (epoch, seq)', async () => {
    const state = new RouterState({ vnodes: 160 });
    await state.apply(snapshot(5, ['http://10.0.0.1:8000'], ['http://10.0.1.1:8200']));
    expect(await state.apply(snapshot(5, ['http://10.0.0.9:8000'], []))).toMatchObject({ ok: false, reason: 'stale' });
    expect(await state.apply(snapshot(4, ['http://10.0.0.9:8000'], []))).toMatchObject({ ok: false, reason: 'stale' });
    expect((await state.apply(snapshot(1, ['http://10.0.0.9:8000'], [], { epoch: 2 }))).ok).toBe(true);
  });

  it('swaps the whole table; a request holding the old one keeps its pods', async () => {
    const state = new RouterState({ vnodes: 160 });
    await state.apply(snapshot(1, ['http://10.0.0.1:8000'], ['http://10.0.1.1:8200']));
    const held = state.table;
    await state.apply(snapshot(2, ['http://10.0.0.7:8000'], ['http://10.0.1.7:8200']));
    expect(held?.members.prefill).toEqual(['http://10.0.0.1:8000']);
    expect(state.table?.members.prefill).toEqual(['http://10.0.0.7:8000']);
  });

  it('reuses a role ring whose members did not change (heartbeats cost no rebuild)', async () => {
    const state = new RouterState({ vnodes: 160 });
    await state.apply(snapshot(1, ['http://10.0.0.1:8000'], ['http://10.0.1.1:8200']));
    const before = state.table;
    await state.apply(snapshot(2, ['http://10.0.0.1:8000'], ['http://10.0.1.1:8200', 'http://10.0.1.2:8200']));
    expect(state.table?.rings.prefill).toBe(before?.rings.prefill);
    expect(state.table?.rings.decode).not.toBe(before?.rings.decode);
  });

  it('leaves not-ready members off the rings', async () => {
    const state = new RouterState({ vnodes: 160 });
    const s = snapshot(1, ['http://10.0.0.1:8000', 'http://10.0.0.2:8000'], ['http://10.0.1.1:8200']);
    (s.members.prefill[1] as { ready: boolean }).ready = false;
    await state.apply(s);
    expect(state.table?.members.prefill).toEqual(['http://10.0.0.1:8000']);
  });

  it('a one-pod change merges into the previous ring: the same points a full build gives', async () => {
    const state = new RouterState({ vnodes: 16 });
    const urls = Array.from({ length: 40 }, (_, i) => `http://10.0.2.${i}:8200`);
    await state.apply(snapshot(1, ['http://10.0.0.1:8000'], urls));
    const next = [...urls.slice(0, 7), ...urls.slice(8), 'http://10.0.3.1:8200'];
    const r = await state.apply(snapshot(2, ['http://10.0.0.1:8000'], next));
    expect(r.ok && r.previous?.snapshot.seq).toBe(1);
    const ring = state.table?.rings.decode;
    const full = new ConsistentHashRing(next, { vnodes: 16 });
    expect(ring?.size).toBe(full.size);
    for (let i = 0; i < full.size; i++) expect(ring?.point(i)).toEqual(full.point(i));
    // Unchanged members are the previous snapshot's validated objects, not new copies.
    expect(state.table?.snapshot.members.prefill[0]).toBe(r.ok ? r.previous?.snapshot.members.prefill[0] : null);
  });

  it('builds a big first ring in a worker thread, while the event loop keeps running', async () => {
    const builder = new RingBuilder({ syncMaxPoints: 100 });
    const state = new RouterState({ vnodes: 160, builder });
    const urls = Array.from({ length: 200 }, (_, i) => `http://10.0.4.${i}:8200`);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    try {
      const r = await state.apply(snapshot(1, [], urls));
      expect(r.ok).toBe(true);
      const full = new ConsistentHashRing(urls);
      const ring = state.table?.rings.decode;
      for (let i = 0; i < full.size; i += 97) expect(ring?.point(i)).toEqual(full.point(i));
      expect(ring?.owner('some key')).toBe(full.owner('some key'));
      // Built on the loop, no timer could have fired between apply() and its result.
      expect(ticks).toBeGreaterThan(0);
    } finally {
      clearInterval(ticker);
      await state.close();
    }
  });

  it('applies run in arrival order, each against the table the one before left', async () => {
    const state = new RouterState({ vnodes: 160, builder: new RingBuilder({ syncMaxPoints: 100 }) });
    const urls = Array.from({ length: 50 }, (_, i) => `http://10.0.5.${i}:8200`);
    try {
      const first = state.apply(snapshot(1, [], urls));
      const second = state.apply(snapshot(2, [], urls.slice(1)));
      const stale = state.apply(snapshot(1, [], urls));
      expect((await first).ok).toBe(true);
      expect((await second).ok).toBe(true);
      expect(await stale).toMatchObject({ ok: false, reason: 'stale' });
      expect(state.table?.snapshot.seq).toBe(2);
      expect(state.table?.rings.decode.members).toEqual([...urls.slice(1)].sort());
    } finally {
      await state.close();
    }
  });

  it.each(['parsed here', 'validated by the source'] as const)(
    'a chain of small changes gives, step by step, the table a fresh state builds from the same snapshot (%s)',
    async (via) => {
      type Raw = { name: string; uid: string; url: string; ready: boolean };
      const decode: Raw[] = Array.from({ length: 30 }, (_, i) => ({
        name: `d-${i}`,
        uid: `u-${i}`,
        url: `http://10.0.4.${i}:8200`,
        ready: true,
      }));
      const prefill: Raw[] = [{ name: 'p-0', uid: 'u-p0', url: 'http://10.0.5.1:8000', ready: true }];
      const edits: ((d: Raw[], p: Raw[]) => void)[] = [
        (d) => d.splice(3, 1), // a pod leaves
        (d) => d.push({ name: 'd-new', uid: 'u-new', url: 'http://10.0.4.200:8200', ready: true }), // one joins
        (d) => {
          (d[0] as Raw).ready = false; // turns unready: off the ring, still in the snapshot
        },
        (d) => {
          (d[0] as Raw).ready = true;
        },
        (d) => {
          (d[1] as Raw).uid = 'u-restarted'; // same URL, new pod: the ring keeps its points
        },
        (d) => {
          (d[2] as Raw).url = 'http://10.0.4.201:8200'; // moved
        },
        // A prefill pod on a decode pod's URL (the same key in two roles): the full path decides.
        (_d, p) => p.push({ name: 'p-1', uid: 'u-p1', url: 'http://10.0.4.10:8200', ready: true }),
        (_d, p) => p.splice(1, 1),
        (d) => d.splice(0, 10), // a third at once: past the merge limit
      ];
      const wire = (seq: number) =>
        JSON.parse(
          JSON.stringify({
            pool: 'default',
            epoch: 1,
            seq,
            time: '2026-01-01T00:00:00.000Z',
            members: { prefill, decode: [...decode].sort((a, b) => (a.name < b.name ? -1 : 1)), plain: [] },
          }),
        );
      // What the NATS source does: parse against the snapshot it handed over before, mark the result.
      let handed: Snapshot | undefined;
      const feed = (seq: number): unknown => {
        if (via === 'parsed here') return wire(seq);
        const parsed = parseSnapshot(wire(seq), handed ? { previous: handed } : {});
        if (!parsed.ok) throw new Error(parsed.error);
        const base = handed;
        handed = parsed.snapshot;
        return validatedSnapshot(parsed.snapshot, {
          base,
          changes: parsed.changes,
          sum: membershipSum(parsed.snapshot),
        });
      };
      const state = new RouterState({ vnodes: 16 });
      try {
        expect((await state.apply(feed(1))).ok).toBe(true);
        let merged = 0;
        for (const [k, edit] of edits.entries()) {
          edit(decode, prefill);
          const candidate = feed(k + 2);
          const keysBefore = new Set(Object.values(state.table?.members ?? {}).flat());
          const previous = state.table;
          const r = await state.apply(candidate);
          if (!r.ok) throw new Error(r.error);
          const fresh = new RouterState({ vnodes: 16 });
          const f = await fresh.apply(wire(k + 2));
          await fresh.close();
          if (!f.ok) throw new Error(f.error);
          expect(r.table.fingerprint).toBe(f.table.fingerprint);
          expect(r.table.snapshot).toEqual(f.table.snapshot);
          // Taken as is, not parsed again.
          if (via === 'validated by the source') expect(r.table.snapshot).toBe(candidate);
          // A merged table says which ring keys joined and left: the difference of the two tables' keys.
          const keysAfter = new Set(Object.values(r.table.members).flat());
          if (r.table.keyChanges !== undefined) {
            merged++;
            expect([...r.table.keyChanges.joined].sort()).toEqual(
              [...keysAfter].filter((x) => !keysBefore.has(x)).sort(),
            );
            expect([...r.table.keyChanges.left].sort()).toEqual(
              [...keysBefore].filter((x) => !keysAfter.has(x)).sort(),
            );
            for (const role of ['prefill', 'decode', 'plain'] as const) {
              const before = new Set(previous?.members[role]);
              const after = new Set(r.table.members[role]);
              expect([...r.table.keyChanges.roles[role].joined].sort()).toEqual(
                [...after].filter((x) => !before.has(x)).sort(),
              );
              expect([...r.table.keyChanges.roles[role].left].sort()).toEqual(
                [...before].filter((x) => !after.has(x)).sort(),
              );
            }
          }
          expect(r.table.members).toEqual(f.table.members);
          expect([...r.table.byKey].sort()).toEqual([...f.table.byKey].sort());
          expect(r.table.byKey.size).toBe(f.table.byKey.size);
          for (const key of f.table.byKey.keys()) expect(r.table.byKey.get(key)).toEqual(f.table.byKey.get(key));
          for (const role of ['prefill', 'decode', 'plain'] as const) {
            const ring = r.table.rings[role];
            const full = f.table.rings[role];
            expect(ring.size).toBe(full.size);
            for (let i = 0; i < full.size; i++) expect(ring.point(i)).toEqual(full.point(i));
          }
        }
        // Most edits merge; the last (a third at once) and the shared key go the full way.
        expect(merged).toBeGreaterThanOrEqual(6);
      } finally {
        await state.close();
      }
    },
  );

  it('a validated snapshot whose base is not the one in use is applied whole, from the snapshot itself', async () => {
    const state = new RouterState({ vnodes: 16 });
    const first = snapshot(1, ['http://10.0.0.1:8000'], ['http://10.0.1.1:8200', 'http://10.0.1.2:8200']);
    await state.apply(first);
    const other = parseSnapshot(snapshot(2, ['http://10.0.0.1:8000'], ['http://10.0.1.1:8200']));
    const next = parseSnapshot(snapshot(3, ['http://10.0.0.1:8000'], ['http://10.0.1.3:8200']), {
      previous: other.ok ? other.snapshot : undefined,
    });
    if (!other.ok || !next.ok) throw new Error('fixture');
    // Changes relative to a snapshot this state never applied: they must not be merged into its table.
    const r = await state.apply(
      validatedSnapshot(next.snapshot, {
        base: other.snapshot,
        changes: next.changes,
        sum: membershipSum(next.snapshot),
      }),
    );
    if (!r.ok) throw new Error(r.error);
    expect(r.table.snapshot).toBe(next.snapshot);
    expect(r.table.members.decode).toEqual(['http://10.0.1.3:8200']);
    expect(r.table.rings.decode.fingerprint).toBe(
      new ConsistentHashRing(['http://10.0.1.3:8200'], { vnodes: 16 }).fingerprint,
    );
    expect(r.table.fingerprint).toBe(snapshotFingerprint(next.snapshot));
    expect([...r.table.byKey.keys()].sort()).toEqual(['http://10.0.0.1:8000', 'http://10.0.1.3:8200']);
    await state.close();
  });

  it('a validated snapshot that is not newer is still refused as stale', async () => {
    const state = new RouterState({ vnodes: 16 });
    await state.apply(snapshot(5, ['http://10.0.0.1:8000'], []));
    const older = parseSnapshot(snapshot(4, ['http://10.0.0.2:8000'], []));
    if (!older.ok) throw new Error(older.error);
    const r = await state.apply(
      validatedSnapshot(older.snapshot, { base: undefined, changes: undefined, sum: membershipSum(older.snapshot) }),
    );
    expect(r).toMatchObject({ ok: false, reason: 'stale' });
    expect(state.table?.snapshot.seq).toBe(5);
    await state.close();
  });
});
