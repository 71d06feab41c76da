import { RouterError } from '@pdrouter/core';
import { describe, expect, it } from 'vitest';
import { JsonShapeScanner, MAX_JSON_CONTAINERS, MAX_JSON_DEPTH, MAX_JSON_ELEMENTS } from './json-shape.ts';

function scan(text: string, chunkBytes?: number): unknown {
  const buf = Buffer.from(text);
  const s = new JsonShapeScanner();
  try {
    if (chunkBytes === undefined) s.feed(buf);
    else for (let i = 0; i < buf.length; i += chunkBytes) s.feed(buf.subarray(i, i + chunkBytes));
    return 'ok';
  } catch (err) {
    return err instanceof RouterError ? `${err.status} ${err.message}` : err;
  }
}

describe('JSON shape limits on raw bytes', () => {
  it('counts nothing inside strings, escaped quotes and backslashes included, whatever the chunking', () => {
    const inner = `${'{[,'.repeat(MAX_JSON_CONTAINERS)}\\"{[,\\\\`;
    const text = JSON.stringify({ prompt: inner, n: [1, 2] });
    for (const chunk of [undefined, 1, 2, 3, 7, 4096]) expect(scan(text, chunk)).toBe('ok');
  });

  it('refuses nesting past the depth limit, and accepts it at the limit', () => {
    expect(scan(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`)).toBe('ok');
    expect(scan(`${'['.repeat(MAX_JSON_DEPTH + 1)}`, 5)).toMatch(/^400 .*deeper than 64/);
  });

  it('refuses too many objects and arrays (the [{},{},...] body) as 413', () => {
    // The outer array counts too: one array and MAX - 1 objects are exactly at the limit.
    expect(scan(`[${'{},'.repeat(MAX_JSON_CONTAINERS - 2)}{}]`)).toBe('ok');
    expect(scan(`[${'{},'.repeat(MAX_JSON_CONTAINERS - 1)}{}]`, 65536)).toMatch(
      /^413 .*100,000 JSON objects and arrays/,
    );
  });

  it('refuses too many elements as 413; a 128k-token id prompt is far below', () => {
    expect(scan(JSON.stringify({ prompt: Array.from({ length: 131_072 }, (_, i) => i) }))).toBe('ok');
    expect(scan(`[${'1,'.repeat(MAX_JSON_ELEMENTS)}1]`)).toBe('ok');
    expect(scan(`[${'1,'.repeat(MAX_JSON_ELEMENTS + 1)}1]`, 65536)).toMatch(/^413 .*1,000,000 JSON elements/);
  });

  it('a string ending in a backslash at a chunk boundary escapes the first byte of the next chunk', () => {
    const s = new JsonShapeScanner();
    s.feed(Buffer.from('{"a":"x\\'));
    s.feed(Buffer.from('"'.concat('['.repeat(MAX_JSON_DEPTH + 5), '"}')));
  });
});
