import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { encodeSseEvent, isSseDone, SSE_DONE, type SseEvent, SseParser } from './sse.ts';

function parseAll(chunks: (string | Uint8Array)[]): SseEvent[] {
  const parser = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...parser.push(c));
  out.push(...parser.end());
  return out;
}

describe('SseParser', () => {
  test('OpenAI stream with [DONE]', () => {
    const events = parseAll(['data: {"a":1}\n\n', 'data: {"a":2}\n\n', SSE_DONE]);
    expect(events.map((e) => e.data)).toEqual(['{"a":1}', '{"a":2}', '[DONE]']);
    expect(isSseDone(events[2] as SseEvent)).toBe(true);
  });

  test('CRLF, CR, multi-line data, comments, fields', () => {
    const text =
      ': keep-alive\r\nevent: add\r\nid: 7\r\nretry: 1500\r\ndata: one\r\ndata:two\r\n\r\ndata: x\r\rdata\n\n';
    expect(parseAll([text])).toEqual([
      { event: 'add', id: '7', retry: 1500, data: 'one\ntwo' },
      { data: 'x' },
      { data: '' },
    ]);
  });

  test('a blank line without data dispatches nothing; bad retry and NUL ids are ignored', () => {
    expect(parseAll(['event: ping\n\n', 'retry: soon\nid: a\0b\ndata: y\n\n'])).toEqual([{ data: 'y' }]);
  });

  test('CRLF split across chunks counts once', () => {
    expect(parseAll(['data: a\r', '\n', '\r', '\ndata: b\n\n'])).toEqual([{ data: 'a' }, { data: 'b' }]);
  });

  test('UTF-8 split inside a character, and a leading BOM', () => {
    const bytes = new TextEncoder().encode('\ufeffdata: caf\u00e9 \u{1f600}\n\n');
    const chunks = Array.from(bytes, (b) => new Uint8Array([b]));
    expect(parseAll(chunks)).toEqual([{ data: 'caf\u00e9 \u{1f600}' }]);
  });

  test('end(): a complete last event without its blank line is kept, a cut-off line is not', () => {
    expect(parseAll(['data: last\n'])).toEqual([{ data: 'last' }]);
    expect(parseAll(['data: complete\ndata: cut'])).toEqual([{ data: 'complete' }]);
    expect(parseAll(['data: cu'])).toEqual([]);
  });

  test('any split of an encoded stream parses to the same events', () => {
    const eventArb = fc.record(
      {
        data: fc.string({ maxLength: 30 }).map((s) => s.replace(/\r/g, '')),
        event: fc.stringMatching(/^[a-z]{1,8}$/),
        id: fc.stringMatching(/^[0-9a-z]{1,6}$/),
      },
      { requiredKeys: ['data'] },
    );
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (events, cuts) => {
        const wire = events.map((e) => encodeSseEvent(e)).join('');
        const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(wire.slice(prev, p));
          prev = p;
        }
        chunks.push(wire.slice(prev));
        expect(parseAll(chunks)).toEqual(events.map((e) => ({ ...e, data: e.data.replace(/\r\n|\r/g, '\n') })));
      }),
      { numRuns: 300 },
    );
  });
});

describe('encodeSseEvent', () => {
  test('fields and multi-line data', () => {
    expect(encodeSseEvent({ data: '[DONE]' })).toBe(SSE_DONE);
    expect(encodeSseEvent({ event: 'e', id: '1', retry: 10, data: 'a\nb' })).toBe(
      'event: e\nid: 1\nretry: 10\ndata: a\ndata: b\n\n',
    );
  });
});
