import { describe, expect, test } from 'vitest';
import { ConsistentHashRing, sortRingMembers } from './ring.ts';
import { bucketize, bucketizeInSteps, buildRingPoints } from './ring-points.ts';
import { type Member, membershipSum, membershipSumInSteps, type Snapshot } from './snapshot.ts';
import { PARSE_STEP_MEMBERS, parseSnapshot, parseSnapshotInSteps } from './snapshot-parse.ts';
import { assembleSnapshot, assembleSnapshotInSteps, parseShard, shardSnapshot } from './snapshot-shards.ts';
import { runInSlices } from './steps.ts';

// The *InSteps generators do the same work as their one-call forms, with pauses between parts: the
// results must be the same, and a big fresh parse must pause while a small change must not.

function runCounting<T>(steps: Generator<void, T>): { value: T; pauses: number } {
  let pauses = 0;
  for (;;) {
    const step = steps.next();
    if (step.done === true) return { value: step.value, pauses };
    pauses++;
  }
}

const member = (i: number): Member => ({
  name: `pod-${String(i).padStart(5, '0')}`,
  uid: `u-${i}`,
  url: `http://10.1.${i >> 8}.${i & 255}:8000`,
  ready: true,
});

function snapshot(n: number, seq = 1): Snapshot {
  return {
    pool: 'p',
    epoch: 1,
    seq,
    time: '2026-01-01T00:00:00.000Z',
    members: { prefill: [], decode: Array.from({ length: n }, (_, i) => member(i)), plain: [] },
  };
}

describe('work in slices', () => {
  /** A generator of `steps` steps, each advancing the fake clock by `stepMs`. */
  function* clocked(clock: { t: number }, steps: number, stepMs: number): Generator<void, string> {
    for (let i = 0; i < steps; i++) {
      clock.t += stepMs;
      yield;
    }
    return 'done';
  }

  test('pauses once a slice has run sliceMs, never within it, and returns the result', async () => {
    const clock = { t: 0 };
    let pauses = 0;
    const pause = async () => {
      pauses++;
    };
    const now = () => clock.t;
    // 1 ms steps in 4 ms slices: a pause after every 4th step.
    expect(await runInSlices(clocked(clock, 20, 1), { pause, now, sliceMs: 4 })).toBe('done');
    expect(pauses).toBe(5);
    // Fast steps (a warm one-pod change): one slice, no pause.
    pauses = 0;
    await runInSlices(clocked(clock, 100, 0.01), { pause, now, sliceMs: 4 });
    expect(pauses).toBe(0);
    // A step longer than a slice: a pause after each.
    pauses = 0;
    await runInSlices(clocked(clock, 3, 9), { pause, now, sliceMs: 4 });
    expect(pauses).toBe(3);
  });

  test('a step that throws rejects the run', async () => {
    function* failing(): Generator<void, never> {
      yield;
      throw new Error('bad member');
    }
    await expect(runInSlices(failing(), { pause: async () => {}, sliceMs: 0 })).rejects.toThrow('bad member');
  });
});

describe('work in steps', () => {
  test('a fresh parse pauses every PARSE_STEP_MEMBERS members validated and every 1,000 indexed; a one-pod change every 1,000 compared', () => {
    const raw = JSON.parse(JSON.stringify(snapshot(5_000)));
    const fresh = runCounting(parseSnapshotInSteps(raw));
    expect(fresh.pauses).toBe(Math.floor(5_000 / PARSE_STEP_MEMBERS) + 5);
    expect(fresh.value).toEqual(parseSnapshot(raw));
    if (!fresh.value.ok) throw new Error(fresh.value.error);
    const next = JSON.parse(JSON.stringify(snapshot(5_000, 2)));
    next.members.decode[7].ready = false;
    const change = runCounting(parseSnapshotInSteps(next, { previous: fresh.value.snapshot }));
    // 4,999 members taken from the previous snapshot, a pause at every 1,000th position of the array
    // (runInSlices turns these into pauses only when the work is slow); one validated afresh.
    expect(change.pauses).toBe(5);
    expect(change.value.ok && change.value.changes?.added.decode.map((m) => m.name)).toEqual(['pod-00007']);
    // An invalid member found after some pauses is the same error as in one call.
    const bad = JSON.parse(JSON.stringify(snapshot(3_000)));
    bad.members.decode[2_500].url = 'ftp://x';
    expect(runCounting(parseSnapshotInSteps(bad)).value).toEqual(parseSnapshot(bad));
    expect(parseSnapshot(bad)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/members\.decode\[2500\]\.url/),
    });
  });

  test('assembling, hashing the membership and bucketing points give the one-call results', () => {
    const s = snapshot(3_000);
    const sharded = shardSnapshot(s);
    const contents = sharded.shards.map((x) => {
      const r = parseShard(x.raw, x);
      if (!r.ok) throw new Error(r.error);
      return r.content;
    });
    const stepped = runCounting(assembleSnapshotInSteps(sharded.manifest, contents));
    expect(stepped.pauses).toBeGreaterThan(2);
    expect(stepped.value).toEqual(assembleSnapshot(sharded.manifest, contents));
    const sum = runCounting(membershipSumInSteps(s, 500));
    expect(sum.pauses).toBe(6);
    expect(sum.value).toEqual(membershipSum(s));
    const sorted = sortRingMembers(s.members.decode.map((m) => m.url));
    const points = buildRingPoints(sorted, 160);
    const bucketed = runCounting(bucketizeInSteps(points, 16));
    expect(bucketed.pauses).toBeGreaterThan(0);
    expect(bucketed.value).toEqual(bucketize(points, 16));
    const ring = runCounting(ConsistentHashRing.fromPointsInSteps(sorted, 160, points)).value;
    const whole = new ConsistentHashRing(sorted);
    for (let i = 0; i < whole.size; i += 997) expect(ring.point(i)).toEqual(whole.point(i));
    expect(ring.fingerprint).toBe(whole.fingerprint);
  });
});
