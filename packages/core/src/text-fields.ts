// vllm-router's "body field" scanner (policies/hash_key.rs). It does not parse JSON: it searches the
// routing text (the prompt it extracted) for `"name"`, `'name'` or bare `name`, then a colon, then a
// quoted or unquoted value. Only the first occurrence of each pattern is considered. Reproduced so
// our keys equal vllm-router's whenever a prompt happens to contain such a pattern.

/** Rust's char::is_whitespace (Unicode White_Space); differs from JS \s on U+0085 and U+FEFF. */
export function isRustWhitespace(code: number): boolean {
  return (
    (code >= 0x09 && code <= 0x0d) ||
    code === 0x20 ||
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/** Index just past the colon that follows `from` after optional whitespace, or -1. */
function colonAfter(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) return i + 1;
    if (!isRustWhitespace(c)) return -1;
  }
  return -1;
}

const UNQUOTED_END = new Set([',', ' ', '}', ']', '\n', '\r', '\t']);

/** vllm-router's extract_field_value. */
export function scanFieldValue(text: string, field: string): string | undefined {
  for (const pattern of [`"${field}"`, `'${field}'`, field]) {
    const at = text.indexOf(pattern);
    if (at < 0) continue;
    const afterColon = colonAfter(text, at + pattern.length);
    if (afterColon < 0) continue;
    let start = afterColon;
    while (start < text.length && isRustWhitespace(text.charCodeAt(start))) start++;
    const first = text[start];
    if (first === '"' || first === "'") {
      const close = text.indexOf(first, start + 1);
      if (close >= 0) return text.slice(start + 1, close);
      continue;
    }
    let end = start;
    while (end < text.length && !UNQUOTED_END.has(text[end] as string)) end++;
    if (end > start) return text.slice(start, end);
  }
  return undefined;
}

/** vllm-router's find_field_start: the index after `"field":` (or `'field':`), or -1. */
function fieldStart(text: string, field: string): number {
  for (const pattern of [`"${field}"`, `'${field}'`]) {
    const at = text.indexOf(pattern);
    if (at < 0) continue;
    const afterColon = colonAfter(text, at + pattern.length);
    if (afterColon >= 0) return afterColon;
  }
  return -1;
}

/** vllm-router's extract_json_object: the first balanced {...} at `start` (no string awareness). */
function braceObject(text: string, start: number): string | undefined {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return text.slice(start, i + 1);
    }
  }
  return undefined;
}

/** vllm-router's extract_nested_field_value (session_params.session_id). */
export function scanNestedFieldValue(text: string, parent: string, child: string): string | undefined {
  const start = fieldStart(text, parent);
  if (start < 0) return undefined;
  const open = text.indexOf('{', start);
  if (open < 0) return undefined;
  const object = braceObject(text, open);
  return object === undefined ? undefined : scanFieldValue(object, child);
}

/** vllm-router's extract_hash_key_from_body over its routing text. */
export function scanTextKey(text: string): string | undefined {
  // Every match needs a colon after the field name: one scan rules out most prompts.
  if (text.indexOf(':') < 0) return undefined;
  const nested = scanNestedFieldValue(text, 'session_params', 'session_id');
  if (nested !== undefined) return `session:${nested}`;
  const user = scanFieldValue(text, 'user');
  if (user !== undefined) return `user:${user}`;
  const sessionId = scanFieldValue(text, 'session_id');
  if (sessionId !== undefined) return `session:${sessionId}`;
  const userId = scanFieldValue(text, 'user_id');
  if (userId !== undefined) return `user:${userId}`;
  return undefined;
}
