import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { canonicalJson } from './canonical-json.ts';
import { RouterError } from './errors.ts';
import {
  compareSnapshotOrder,
  encodeSnapshot,
  isNewerSnapshot,
  type Member,
  memberJson,
  memberRingKey,
  ringMembers,
  type Snapshot,
  snapshotFingerprint,
  snapshotFromUrls,
} from './snapshot.ts';
import { parseSnapshot } from './snapshot-parse.ts';

function sample(): Snapshot {
  return {
    pool: 'llama31',
    epoch: 3,
    seq: 17,
    time: '2026-11-25T10:00:00.000Z',
    members: {
      prefill: [
        { name: 'prefill-1', uid: 'u1', url: 'http://10.2.1.131:8000', ready: true, bootstrapPort: 8998 },
        { name: 'prefill-0', uid: 'u0', url: 'http://10.2.1.130:8000', ready: false },
      ],
      decode: [{ name: 'decode-0', uid: 'u2', url: 'http://10.2.1.179:8200', ready: true, dpRank: 0 }],
      plain: [],
    },
  };
}

function expectError(input: unknown, fragment: string): void {
  const r = parseSnapshot(input);
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.error).toContain(fragment);
}

describe('parseSnapshot', () => {
  test('accepts a valid snapshot, as an object or JSON text', () => {
    const s = sample();
    expect(parseSnapshot(s)).toEqual({ ok: true, snapshot: s });
    expect(parseSnapshot(JSON.stringify(s))).toEqual({ ok: true, snapshot: s });
    expect(parseSnapshot(new TextEncoder().encode(encodeSnapshot(s))).ok).toBe(true);
  });

  test('plain may be omitted and defaults to no members', () => {
    const { plain: _plain, ...members } = sample().members;
    const r = parseSnapshot({ ...sample(), members });
    expect(r.ok && r.snapshot.members.plain).toEqual([]);
  });

  test('precise errors', () => {
    const s = sample();
    expectError('{', 'snapshot: invalid JSON');
    expectError([], 'snapshot: must be a JSON object, got an array');
    expectError({ ...s, seq: undefined }, 'snapshot: missing field "seq"');
    expectError({ ...s, extra: 1 }, 'snapshot: unknown field "extra"');
    expectError({ ...s, pool: 'a b' }, 'pool: "a b" is not a valid pool name');
    expectError({ ...s, epoch: -1 }, 'epoch: must be a non-negative integer, got number -1');
    expectError({ ...s, seq: 1.5 }, 'seq: must be a non-negative integer');
    expectError({ ...s, time: 'yesterday' }, 'time: must be an ISO 8601 date-time');
    expectError({ ...s, members: { ...s.members, both: [] } }, 'members: unknown role "both"');
    expectError({ ...s, members: { decode: [], plain: [] } }, 'members: missing role "prefill"');
    expectError({ ...s, members: { ...s.members, decode: {} } }, 'members.decode: must be an array, got an object');
  });

  test('precise member errors', () => {
    const s = sample();
    const withPrefill = (m: unknown) => ({ ...s, members: { ...s.members, prefill: [s.members.prefill[0], m] } });
    const good = { name: 'p', uid: 'u', url: 'http://10.0.0.9:8000', ready: true };
    expectError(
      withPrefill({ ...good, url: 'ftp://x:1' }),
      'members.prefill[1].url: must be an http:// or https:// URL',
    );
    expectError(withPrefill({ ...good, url: 'http://x:1/' }), 'use "http://x:1"');
    expectError(withPrefill({ ...good, url: 'http://x:1/v1' }), 'no path, query or trailing slash');
    expectError(withPrefill({ ...good, url: 'nonsense' }), 'members.prefill[1].url: not a URL');
    expectError(withPrefill({ ...good, name: '' }), 'members.prefill[1].name: must be a non-empty string');
    expectError(withPrefill({ ...good, ready: 'yes' }), 'members.prefill[1].ready: must be true or false');
    expectError(withPrefill({ ...good, bootstrapPort: 70000 }), 'members.prefill[1].bootstrapPort: must be a port');
    expectError(withPrefill({ ...good, bootstrap_port: 1 }), 'members.prefill[1]: unknown field "bootstrap_port"');
    expectError(withPrefill({ ...good, name: 'prefill-1' }), 'members.prefill[1].name: duplicate member "prefill-1"');
    expectError(withPrefill({ ...good, url: 'http://10.2.1.131:8000' }), 'duplicate member URL http://10.2.1.131:8000');
    const { uid: _uid, ...noUid } = good;
    expectError(withPrefill(noUid), 'members.prefill[1].uid: must be a non-empty string, got undefined');
  });

  test('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), (v) => {
        const r = parseSnapshot(v);
        expect(r.ok === true || typeof (r as { error: string }).error === 'string').toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('encoding and fingerprint', () => {
  test('canonical: sorted keys and members, stable across member order', () => {
    const s = sample();
    const text = encodeSnapshot(s);
    expect(text.startsWith('{"epoch":3,"members":{"decode":[{"dpRank":0,"name":"decode-0"')).toBe(true);
    expect(text.indexOf('"prefill-0"')).toBeLessThan(text.indexOf('"prefill-1"'));
    const reversed = { ...s, members: { ...s.members, prefill: [...s.members.prefill].reverse() } };
    expect(encodeSnapshot(reversed)).toBe(text);
    const back = parseSnapshot(text);
    expect(back.ok && encodeSnapshot(back.snapshot)).toBe(text);
  });

  test('the fingerprint covers membership only', () => {
    const s = sample();
    const fp = snapshotFingerprint(s);
    expect(fp).toMatch(/^[0-9a-f]{16}$/);
    expect(snapshotFingerprint({ ...s, seq: 99, epoch: 9, time: '2027-01-01T00:00:00Z', pool: 'other' })).toBe(fp);
    const flipped = structuredClone(s);
    (flipped.members.prefill[1] as { ready: boolean }).ready = true;
    expect(snapshotFingerprint(flipped)).not.toBe(fp);
    const moved = structuredClone(s);
    moved.members.plain.push(moved.members.decode.pop() as (typeof s.members.decode)[0]);
    expect(snapshotFingerprint(moved)).not.toBe(fp);
  });

  test('canonicalJson refuses values JSON cannot carry', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined })).toBe('{"a":[true,null,"x"],"b":1}');
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ a: 1n })).toThrow(TypeError);
  });
});

describe('ordering', () => {
  test('by epoch, then seq', () => {
    const s = sample();
    expect(compareSnapshotOrder({ epoch: 1, seq: 100 }, { epoch: 2, seq: 0 })).toBeLessThan(0);
    expect(compareSnapshotOrder({ epoch: 2, seq: 5 }, { epoch: 2, seq: 4 })).toBeGreaterThan(0);
    expect(compareSnapshotOrder(s, s)).toBe(0);
    expect(isNewerSnapshot(s)).toBe(true);
    expect(isNewerSnapshot({ ...s, seq: 18 }, s)).toBe(true);
    expect(isNewerSnapshot(s, s)).toBe(false);
    expect(isNewerSnapshot({ ...s, epoch: 2, seq: 1000 }, s)).toBe(false);
  });
});

describe('snapshotFromUrls and ring members', () => {
  test('standalone snapshot', () => {
    const s = snapshotFromUrls({
      prefill: [{ url: 'http://10.0.0.1:8000', bootstrapPort: 8998 }, 'http://10.0.0.2:8000'],
      decode: ['http://10.0.0.3:8200'],
      time: '2026-01-01T00:00:00.000Z',
    });
    expect(s.pool).toBe('default');
    expect([s.epoch, s.seq]).toEqual([0, 0]);
    expect(s.members.prefill[0]).toEqual({
      name: 'http://10.0.0.1:8000',
      uid: 'http://10.0.0.1:8000',
      url: 'http://10.0.0.1:8000',
      ready: true,
      bootstrapPort: 8998,
    });
    expect(s.members.plain).toEqual([]);
    expect(ringMembers(s, 'prefill')).toEqual(['http://10.0.0.1:8000', 'http://10.0.0.2:8000']);
  });

  test('bad URLs and duplicates throw a RouterError', () => {
    expect(() => snapshotFromUrls({ prefill: ['http://a:1/'], decode: [] })).toThrow(RouterError);
    expect(() => snapshotFromUrls({ prefill: ['http://a:1', 'http://a:1'], decode: [] })).toThrow(/duplicate/);
  });

  test('ring members skip unready pods and carry dp ranks', () => {
    const s = sample();
    expect(ringMembers(s, 'prefill')).toEqual(['http://10.2.1.131:8000']);
    expect(ringMembers(s, 'decode')).toEqual(['http://10.2.1.179:8200@0']);
    expect(memberRingKey({ name: 'n', uid: 'u', url: 'http://h:1', ready: true })).toBe('http://h:1');
  });
});

describe('memberJson', () => {
  test('is canonicalJson of the member, for every shape a member can have', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            name: fc.string(),
            uid: fc.string(),
            url: fc.string(),
            ready: fc.boolean(),
            bootstrapPort: fc.integer({ min: 1, max: 65535 }),
            dpRank: fc.nat(),
          },
          { requiredKeys: ['name', 'uid', 'url', 'ready'] },
        ),
        fc.boolean(),
        (m, extra) => {
          const member = extra ? { ...m, extra: [1, 'x'] } : { ...m };
          expect(memberJson(member as Member)).toBe(canonicalJson(member));
        },
      ),
      { numRuns: 300 },
    );
  });
});
