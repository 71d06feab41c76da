import { describe, expect, test } from 'vitest';
import {
  encodeLoadMessage,
  FleetLoad,
  LOAD_MESSAGE_MAX_COUNT,
  type LoadMessage,
  loadShareSubject,
  parseLoadMessage,
} from './fleet-load.ts';

const P1 = 'http://10.0.0.1:8000';
const P2 = 'http://10.0.0.2:8000';

function msg(replica: string, seq: number, pods: Record<string, number>): LoadMessage {
  const r = parseLoadMessage(encodeLoadMessage(replica, seq, Object.entries(pods)));
  if (!r.ok) throw new Error(r.error);
  return r.message;
}

describe('load messages', () => {
  test('round-trip; pods with nothing in flight are left out', () => {
    const text = encodeLoadMessage('a', 7, [
      [P1, 3],
      [P2, 0],
    ]);
    expect(JSON.parse(text)).toEqual({ v: 1, replica: 'a', seq: 7, pods: { [P1]: 3 } });
    const r = parseLoadMessage(text);
    expect(r.ok && r.message).toEqual({ replica: 'a', seq: 7, pods: new Map([[P1, 3]]) });
  });

  test('the subject names the bucket and the pool', () => {
    expect(loadShareSubject('pdrouter-snapshots', 'default')).toBe('pdrouter.load.pdrouter-snapshots.default');
  });

  test('anything else is refused with a reason, never thrown', () => {
    const bad: [string, string][] = [
      ['', 'not JSON'],
      ['[1]', 'not a JSON object'],
      ['{"v":2,"replica":"a","seq":1,"pods":{}}', 'unknown version'],
      ['{"v":1,"replica":"","seq":1,"pods":{}}', 'replica'],
      [`{"v":1,"replica":"${'x'.repeat(300)}","seq":1,"pods":{}}`, 'replica'],
      ['{"v":1,"replica":"a","seq":-1,"pods":{}}', 'seq'],
      ['{"v":1,"replica":"a","seq":1.5,"pods":{}}', 'seq'],
      ['{"v":1,"replica":"a","seq":1,"pods":[]}', 'pods must be an object'],
      ['{"v":1,"replica":"a","seq":1,"pods":{"p":-1}}', 'integer'],
      ['{"v":1,"replica":"a","seq":1,"pods":{"p":"3"}}', 'integer'],
      [`{"v":1,"replica":"a","seq":1,"pods":{"p":${LOAD_MESSAGE_MAX_COUNT + 1}}}`, 'integer'],
      ['{"v":1,"replica":"a","seq":1,"pods":{"":1}}', 'pod name'],
    ];
    for (const [text, error] of bad) {
      const r = parseLoadMessage(text);
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(r.error, text).toContain(error);
    }
    // __proto__ as a pod name is data, not a prototype.
    const r = parseLoadMessage('{"v":1,"replica":"a","seq":1,"pods":{"__proto__":2}}');
    expect(r.ok && [...r.message.pods]).toEqual([['__proto__', 2]]);
  });
});

describe('FleetLoad', () => {
  test("sums the other replicas' latest counts per pod and ignores its own", () => {
    const f = new FleetLoad({ self: 'me', staleMs: 1000 });
    expect(f.ingest(msg('a', 1, { [P1]: 2, [P2]: 1 }), 0)).toBe('ok');
    expect(f.ingest(msg('b', 1, { [P1]: 3 }), 0)).toBe('ok');
    expect(f.ingest(msg('me', 1, { [P1]: 50 }), 0)).toBe('own');
    expect(f.inFlight(P1)).toBe(5);
    expect(f.inFlight(P2)).toBe(1);
    // a's next report replaces its previous one, including pods it no longer has legs on.
    expect(f.ingest(msg('a', 2, { [P1]: 1 }), 100)).toBe('ok');
    expect(f.inFlight(P1)).toBe(4);
    expect(f.inFlight(P2)).toBe(0);
    expect(f.peerCount).toBe(2);
  });

  test('a message older than the last one heard from that replica is dropped', () => {
    const f = new FleetLoad({ self: 'me', staleMs: 1000 });
    f.ingest(msg('a', 5, { [P1]: 4 }), 0);
    expect(f.ingest(msg('a', 4, { [P1]: 9 }), 10)).toBe('out_of_order');
    expect(f.ingest(msg('a', 5, { [P1]: 9 }), 10)).toBe('out_of_order');
    expect(f.inFlight(P1)).toBe(4);
  });

  test('a replica not heard from within the staleness limit expires; the others stay', () => {
    const f = new FleetLoad({ self: 'me', staleMs: 1000 });
    f.ingest(msg('a', 1, { [P1]: 2 }), 0);
    f.ingest(msg('b', 1, { [P1]: 3 }), 500);
    expect(f.expire(1000)).toEqual([]);
    expect(f.expire(1001)).toEqual(['a']);
    expect(f.inFlight(P1)).toBe(3);
    expect(f.peerViews(1200)).toEqual([{ replica: 'b', ageMs: 700, inFlight: 3 }]);
    // Heard again: it counts again, from its new report (a restarted replica has a new id anyway).
    expect(f.ingest(msg('a', 2, { [P1]: 1 }), 1300)).toBe('ok');
    expect(f.inFlight(P1)).toBe(4);
    expect(f.expire(5000).sort()).toEqual(['a', 'b']);
    expect(f.inFlight(P1)).toBe(0);
    expect(f.peerCount).toBe(0);
  });

  test('at most maxPeers replicas are held', () => {
    const f = new FleetLoad({ self: 'me', staleMs: 1000, maxPeers: 2 });
    f.ingest(msg('a', 1, { [P1]: 1 }), 0);
    f.ingest(msg('b', 1, { [P1]: 1 }), 0);
    expect(f.ingest(msg('c', 1, { [P1]: 1 }), 0)).toBe('too_many_peers');
    expect(f.ingest(msg('a', 2, { [P1]: 2 }), 0)).toBe('ok');
    expect(f.inFlight(P1)).toBe(3);
  });
});
