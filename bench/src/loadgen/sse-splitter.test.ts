import { describe, expect, it } from 'vitest';
import { SseDataSplitter } from './sse-splitter.ts';

describe('SseDataSplitter', () => {
  const stream = 'data: {"a":1}\n\n: ping\n\nevent: x\ndata: one\ndata: two\n\r\ndata: [DONE]\n\n';

  it('yields the data of each event, whatever the split points', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const s = new SseDataSplitter();
      const got = [...s.push(stream.slice(0, cut)), ...s.push(stream.slice(cut)), ...s.end()];
      expect(got).toEqual(['{"a":1}', 'one\ntwo', '[DONE]']);
    }
  });

  it('handles CRLF line endings and a last event without a blank line', () => {
    const s = new SseDataSplitter();
    expect(s.push('data: a\r\n\r\ndata: b')).toEqual(['a']);
    expect(s.end()).toEqual(['b']);
  });
});
