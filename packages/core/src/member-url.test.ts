import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { checkMemberUrl, isPlainMemberUrl } from './snapshot-parse.ts';

// isPlainMemberUrl is a shortcut in front of the URL parse: whatever it accepts, the parse must accept
// with the same text, and checkMemberUrl's answer must not depend on it.

/** checkMemberUrl's rule through the WHATWG parser alone. */
function parserAccepts(text: string): boolean {
  try {
    const url = new URL(text);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.username === '' &&
      url.password === '' &&
      `${url.protocol}//${url.host}` === text
    );
  } catch {
    return false;
  }
}

const pieceArb = fc.constantFrom(
  '0',
  '00',
  '01',
  '1',
  '9',
  '10',
  '99',
  '100',
  '199',
  '200',
  '249',
  '250',
  '255',
  '256',
  '300',
  '999',
  'a',
  'z',
  'pod',
  'Pod',
  'a-b',
  '-a',
  'a-',
  'xn--bcher-kva',
  'xn--',
  '0x1f',
  '0X1',
  'svc',
  'é',
  '_',
  '',
);
const hostArb = fc.array(pieceArb, { minLength: 1, maxLength: 5 }).map((labels) => labels.join('.'));
const urlArb = fc
  .tuple(
    fc.constantFrom('http://', 'https://', 'HTTP://', 'ftp://', 'http:/', 'http:///'),
    fc.oneof(hostArb, fc.string({ maxLength: 12 })),
    fc.constantFrom('', ':0', ':1', ':80', ':443', ':8080', ':08', ':65535', ':65536', ':99999', ':', '/', '/x', '?q'),
  )
  .map(([scheme, host, tail]) => `${scheme}${host}${tail}`);

describe('isPlainMemberUrl', () => {
  test('accepts only URLs the parser serializes to their own text, and checkMemberUrl agrees with the parser', () => {
    let fast = 0;
    fc.assert(
      fc.property(urlArb, (text) => {
        const plain = isPlainMemberUrl(text);
        if (plain) {
          fast++;
          expect(parserAccepts(text)).toBe(true);
        }
        let accepted = true;
        try {
          checkMemberUrl(text, 'url');
        } catch {
          accepted = false;
        }
        expect(accepted).toBe(parserAccepts(text));
      }),
      { numRuns: 3000 },
    );
    // The shortcut is taken, not only sound.
    expect(fast).toBeGreaterThan(5);
  });

  test('takes the addresses and service names pods have', () => {
    for (const url of ['http://10.0.0.1:8200', 'http://10.255.3.7', 'https://pod-1.decode.ns.svc:8443']) {
      expect(isPlainMemberUrl(url)).toBe(true);
    }
    for (const url of ['http://10.0.0.01:8200', 'http://pod:80', 'https://pod:443', 'http://a.123:1', 'http://A:1']) {
      expect(isPlainMemberUrl(url)).toBe(false);
    }
    expect(isPlainMemberUrl(`http://${'a'.repeat(300)}:1`)).toBe(false);
  });
});
