import { describe, expect, it } from 'vitest';
import { parseMembershipChanged, parseSnapshotApplied } from './json-log.ts';

describe('JSON log lines', () => {
  it("reads the proxy's snapshot swap with its own timestamp", () => {
    const line =
      '{"time":"2026-11-25T11:42:01.250Z","level":"info","msg":"snapshot applied","source":"nats","pool":"default",' +
      '"epoch":3,"seq":17,"fingerprint":"ab12","prefill":7,"decode":8,"plain":0}';
    expect(parseSnapshotApplied(line)).toEqual({
      timeMs: Date.parse('2026-11-25T11:42:01.250Z'),
      fingerprint: 'ab12',
      seq: 17,
      prefill: 7,
      decode: 8,
    });
  });

  it("reads discovery's membership change", () => {
    const line = '{"time":"2026-11-25T11:42:01.002Z","level":"info","msg":"membership changed","role":"decode"}';
    expect(parseMembershipChanged(line)).toEqual({ timeMs: Date.parse('2026-11-25T11:42:01.002Z'), role: 'decode' });
  });

  it('ignores other messages, truncated lines and lines missing fields', () => {
    expect(parseSnapshotApplied('{"time":"2026-11-25T11:42:01.250Z","msg":"listening"}')).toBeUndefined();
    expect(parseSnapshotApplied('{"time":"2026-11-25T11:42:01.250Z","msg":"snapshot applied","fing')).toBeUndefined();
    expect(
      parseSnapshotApplied('{"time":"nope","msg":"snapshot applied","fingerprint":"a","seq":1,"prefill":1,"decode":1}'),
    ).toBeUndefined();
    expect(
      parseSnapshotApplied('{"time":"2026-11-25T11:42:01.250Z","msg":"snapshot applied","seq":1}'),
    ).toBeUndefined();
    expect(parseMembershipChanged('not json "msg":"membership changed"')).toBeUndefined();
  });
});
