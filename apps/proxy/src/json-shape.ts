// Limits on the shape of a client's JSON body, checked on the raw bytes as they arrive, before anything
// is parsed: what a body costs once parsed depends on its shape more than on its size (each `{}` of a
// `[{},{},...]` is an object of several dozen bytes, and parsing millions of them holds the event loop for
// seconds). The scan is a byte-level state machine that skips string contents with indexOf; it does not
// validate the JSON (JSON.parse does that afterwards), it only counts.
import { RouterError } from '@pdrouter/core';

/**
 * Deepest nesting of objects and arrays. vLLM's requests nest a few levels (messages, content parts, a
 * tool's JSON schema); 64 leaves room for deep schemas.
 */
export const MAX_JSON_DEPTH = 64;
/**
 * Most objects and arrays in one body: thousands of messages with a few content parts each fit; 100,000
 * empty objects parse into a few MiB.
 */
export const MAX_JSON_CONTAINERS = 100_000;
/**
 * Most comma-separated elements (array items and object members) in one body: a 128k-token prompt as token
 * ids is 131,072 of them; a million numbers or short strings parse into tens of MiB at most.
 */
export const MAX_JSON_ELEMENTS = 1_000_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

export class JsonShapeScanner {
  private depth = 0;
  private containers = 0;
  private elements = 0;
  private inString = false;
  /** A backslash ended the previous chunk inside a string: the next byte is escaped. */
  private escapePending = false;

  /** Counts one chunk of the body; throws a RouterError as soon as a limit is passed. */
  feed(buf: Buffer): void {
    const n = buf.length;
    let i = 0;
    let nextQuote = -1;
    let nextBackslash = -1;
    while (i < n) {
      if (this.inString) {
        if (this.escapePending) {
          this.escapePending = false;
          i++;
          continue;
        }
        // Cached positions: each indexOf runs once per quote or backslash found, never over the same bytes twice.
        if (nextQuote < i) {
          nextQuote = buf.indexOf(QUOTE, i);
          if (nextQuote < 0) nextQuote = n;
        }
        if (nextBackslash < i) {
          nextBackslash = buf.indexOf(BACKSLASH, i);
          if (nextBackslash < 0) nextBackslash = n;
        }
        if (nextBackslash < nextQuote) {
          i = nextBackslash + 2;
          if (i > n) this.escapePending = true;
          continue;
        }
        if (nextQuote === n) return;
        i = nextQuote + 1;
        this.inString = false;
        continue;
      }
      const b = buf[i++] as number;
      if (b === QUOTE) this.inString = true;
      else if (b === COMMA) {
        if (++this.elements > MAX_JSON_ELEMENTS) throw tooMany('elements', MAX_JSON_ELEMENTS);
      } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        if (++this.depth > MAX_JSON_DEPTH) {
          throw new RouterError(
            'invalid_request',
            `request body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`,
          );
        }
        if (++this.containers > MAX_JSON_CONTAINERS) throw tooMany('objects and arrays', MAX_JSON_CONTAINERS);
      } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) this.depth--;
    }
  }
}

function tooMany(what: string, limit: number): RouterError {
  return new RouterError(
    'payload_too_large',
    `request body has more than ${limit.toLocaleString('en-US')} JSON ${what}`,
  );
}
