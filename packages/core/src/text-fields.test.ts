import { describe, expect, test } from 'vitest';
import { isRustWhitespace, scanFieldValue, scanNestedFieldValue, scanTextKey } from './text-fields.ts';

describe("vllm-router's text field scanner", () => {
  test('double, single and unquoted values', () => {
    expect(scanFieldValue('{"session_id": "abc123", "prompt": "hello"}', 'session_id')).toBe('abc123');
    expect(scanFieldValue("{'session_id': 'def456'}", 'session_id')).toBe('def456');
    expect(scanFieldValue('{"count": 42, "name": "test"}', 'count')).toBe('42');
    expect(scanFieldValue('{"session_id":"compact"}', 'session_id')).toBe('compact');
  });

  test('only the first occurrence of each pattern counts', () => {
    // The bare pattern finds "user" inside "username" first, sees no colon, and gives up on it.
    expect(scanFieldValue('username x; user: bob', 'user')).toBeUndefined();
    expect(scanFieldValue('"user" is "user": bob', 'user')).toBeUndefined();
  });

  test('an unterminated quote falls through to the next pattern', () => {
    expect(scanFieldValue('"user": "open', 'user')).toBeUndefined();
    expect(scanFieldValue('"user": , x', 'user')).toBeUndefined();
  });

  test('nested session_params.session_id', () => {
    expect(
      scanNestedFieldValue('{"session_params": {"session_id": "n"}, "p": 1}', 'session_params', 'session_id'),
    ).toBe('n');
    expect(scanNestedFieldValue('{"session_params": {"other": "v"}}', 'session_params', 'session_id')).toBeUndefined();
    expect(scanNestedFieldValue('{"session_params": {"unclosed"', 'session_params', 'session_id')).toBeUndefined();
  });

  test('priority and Rust whitespace', () => {
    expect(scanTextKey('')).toBeUndefined();
    expect(scanTextKey('{"user_id": "u9", "session_id": "s9"}')).toBe('session:s9');
    expect(scanTextKey('user_id:\u0085u7')).toBe('user:u7');
    expect(isRustWhitespace(0x85)).toBe(true);
    expect(isRustWhitespace(0xfeff)).toBe(false);
  });
});
