import {
  encodeManifest,
  encodeSnapshot,
  type Member,
  parseSnapshot,
  type Snapshot,
  shardSnapshot,
} from '@pdrouter/core';
import { waitUntil } from '@pdrouter/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Membership, SnapshotPublisher, type SnapshotStore } from '../src/index.ts';

/** An in-memory bucket key with revisions and switchable failures; NATS behind the publisher's own seam. */
class MemoryStore implements SnapshotStore {
  value: string | undefined;
  revision = 0;
  puts: Snapshot[] = [];
  failing = false;
  async readCurrent(): Promise<{ raw: string; revision: number } | undefined> {
    if (this.failing) throw new Error('store down');
    return this.value === undefined ? undefined : { raw: this.value, revision: this.revision };
  }
  async put(s: Snapshot, previousRevision: number): Promise<{ revision: number } | 'conflict'> {
    if (this.failing) throw new Error('store down');
    if (previousRevision !== this.revision) return 'conflict';
    this.write(encodeSnapshot(s));
    this.puts.push(s);
    return { revision: this.revision };
  }
  /** A write by someone else (another leader, an operator). */
  write(raw: string): void {
    this.value = raw;
    this.revision++;
  }
}

const member = (name: string): Member => ({
  name,
  uid: `uid-${name}`,
  url: `http://${name}.pods.local:8000`,
  ready: true,
});
const members = (prefill: string[], decode: string[]): Membership & Snapshot['members'] => ({
  prefill: prefill.map(member),
  decode: decode.map(member),
  plain: [],
});

const publishers: SnapshotPublisher[] = [];
afterEach(async () => {
  for (const p of publishers.splice(0)) await p.stop();
});

function publisher(store: MemoryStore, heartbeatMs = 60_000, retryMs = 50): SnapshotPublisher {
  const p = new SnapshotPublisher({ pool: 'default', store, heartbeatMs, retryMs });
  publishers.push(p);
  return p;
}

describe('SnapshotPublisher', () => {
  it('publishes only while leading, and only when the membership changed', async () => {
    const store = new MemoryStore();
    const p = publisher(store);
    p.setMembers(members(['p0'], ['d0']));
    await new Promise((r) => setTimeout(r, 50));
    expect(store.puts).toEqual([]);
    p.setLeader(true);
    await waitUntil(() => store.puts.length === 1, { description: 'the first publication' });
    p.setMembers(members(['p0'], ['d0']));
    p.setMembers(members(['p0'], ['d0', 'd1']));
    await waitUntil(() => store.puts.length === 2, { description: 'the change' });
    await new Promise((r) => setTimeout(r, 50));
    expect(store.puts.map((s) => s.seq)).toEqual([1, 2]);
    expect(store.puts[1]?.members.decode.map((m) => m.name)).toEqual(['d0', 'd1']);
    expect(parseSnapshot(store.value as string)).toMatchObject({ ok: true });
  });

  it('starts each term with an epoch above the one in the bucket', async () => {
    const store = new MemoryStore();
    const future = Date.now() + 60_000;
    store.value = encodeSnapshot({
      pool: 'default',
      epoch: future,
      seq: 42,
      time: new Date().toISOString(),
      members: members([], ['d']),
    });
    const p = publisher(store);
    p.setMembers(members(['p0'], ['d0']));
    p.setLeader(true);
    await waitUntil(() => store.puts.length === 1, { description: 'the first publication' });
    expect(store.puts[0]?.epoch).toBe(future + 1);
    expect(store.puts[0]?.seq).toBe(1);
    p.setLeader(false);
    p.setLeader(true);
    await waitUntil(() => store.puts.length === 2, { description: 'the second term' });
    expect(store.puts[1]?.epoch).toBe(future + 2);
  });

  it('reads the epoch of a stored manifest (the sharded encoding) as of a single-value snapshot', async () => {
    const store = new MemoryStore();
    const stored = Date.now() + 30_000;
    const { manifest } = shardSnapshot({
      pool: 'default',
      epoch: stored,
      seq: 9,
      time: new Date().toISOString(),
      members: members(['p9'], ['d9']),
    });
    store.value = encodeManifest(manifest);
    const p = publisher(store);
    p.setMembers(members(['p0'], ['d0']));
    p.setLeader(true);
    await waitUntil(() => store.puts.length === 1, { description: 'the first publication' });
    expect(store.puts[0]?.epoch).toBe(stored + 1);
  });

  it('heartbeats republish the same membership with the next seq', async () => {
    const store = new MemoryStore();
    const p = publisher(store, 80);
    p.setMembers(members(['p0'], ['d0']));
    p.setLeader(true);
    await waitUntil(() => store.puts.length >= 3, { description: 'two heartbeats' });
    const [a, b, c] = store.puts;
    expect([a?.seq, b?.seq, c?.seq]).toEqual([1, 2, 3]);
    expect(b?.members).toEqual(a?.members);
  });

  it('retries after a failed publication and publishes the latest membership', async () => {
    const store = new MemoryStore();
    store.failing = true;
    const errors: unknown[] = [];
    const p = new SnapshotPublisher({
      pool: 'default',
      store,
      heartbeatMs: 60_000,
      retryMs: 30,
      onError: (e) => errors.push(e),
    });
    publishers.push(p);
    p.setMembers(members(['p0'], ['d0']));
    p.setLeader(true);
    await waitUntil(() => errors.length >= 2, { description: 'failed attempts' });
    p.setMembers(members(['p0', 'p1'], ['d0']));
    store.failing = false;
    await waitUntil(() => store.puts.length === 1, { description: 'the publication after recovery' });
    expect(store.puts[0]?.members.prefill.map((m) => m.name)).toEqual(['p0', 'p1']);
  });

  it('a foreign write of any kind is answered with a new epoch above it; a far-future epoch is not followed', async () => {
    const store = new MemoryStore();
    const foreign: Array<{ revision: number; newEpoch: number }> = [];
    const cannot: string[] = [];
    const p = new SnapshotPublisher({
      pool: 'default',
      store,
      heartbeatMs: 40,
      retryMs: 30,
      onForeignWrite: (found, newEpoch) => foreign.push({ revision: found.revision, newEpoch }),
      onCannotWrite: (reason) => cannot.push(reason),
    });
    publishers.push(p);
    p.setMembers(members(['p0'], ['d0']));
    p.setLeader(true);
    await waitUntil(() => store.puts.length >= 1, { description: 'the first publication' });
    const mine = store.puts[0] as Snapshot;
    const epochInStore = () => (parseSnapshot(store.value) as { snapshot?: Snapshot }).snapshot?.epoch ?? -1;

    // Same epoch, seq far ahead (would keep proxies on it for many heartbeats): a new epoch replaces it.
    store.write(encodeSnapshot({ ...mine, seq: mine.seq + 1_000, members: members(['p0'], []) }));
    await waitUntil(() => foreign.length === 1 && epochInStore() > mine.epoch, { description: 'a new epoch' });
    const second = epochInStore();
    // A plausible newer epoch (another writer): the leader goes above it, never silent.
    store.write(encodeSnapshot({ ...mine, epoch: second + 5_000, seq: 1, members: members(['p9'], ['d9']) }));
    await waitUntil(() => foreign.length === 2 && epochInStore() > second + 5_000, {
      description: 'an epoch above the foreign one',
    });
    const third = epochInStore();
    // A far-future epoch: overwritten, and not followed (the next epoch stays near the clock).
    store.write(encodeSnapshot({ ...mine, epoch: Date.now() + 365 * 24 * 3_600_000, seq: 1 }));
    await waitUntil(() => foreign.length === 3 && epochInStore() > third && epochInStore() < Date.now() + 60_000, {
      description: 'the far-future value replaced by a plausible epoch',
    });
    expect(store.puts.at(-1)?.members.prefill.map((m) => m.name)).toEqual(['p0']);
    expect(cannot).toEqual([]);
    // One more foreign write than tolerated in a term: the leader says it cannot write (and steps down).
    store.write('{"broken":');
    await waitUntil(() => cannot.length === 1, { description: 'the publisher to give up' });
    expect(cannot[0]).toMatch(/another writer changed the key 4 times/);
  });

  it('publication failing for stepDownAfterMs is reported once the limit passes, and retried meanwhile', async () => {
    const store = new MemoryStore();
    store.failing = true;
    const cannot: string[] = [];
    let errors = 0;
    const p = new SnapshotPublisher({
      pool: 'default',
      store,
      heartbeatMs: 60_000,
      retryMs: 20,
      stepDownAfterMs: 150,
      onError: () => errors++,
      onCannotWrite: (reason) => cannot.push(reason),
    });
    publishers.push(p);
    const startedAt = Date.now();
    p.setMembers(members(['p0'], ['d0']));
    p.setLeader(true);
    await waitUntil(() => cannot.length >= 1, { description: 'the step-down report' });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(150);
    expect(errors).toBeGreaterThanOrEqual(2);
    expect(cannot[0]).toMatch(/publication failing for \d+ ms \(last error: store down\)/);
  });
});
