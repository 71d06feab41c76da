import { describe, expect, it } from 'vitest';
import { inboxPrefixOfCreds } from '../src/index.ts';

/** A .creds file around a user JWT with these claims (the signature is not checked by the client). */
function creds(claims: unknown): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const jwt = `${part({ typ: 'JWT', alg: 'ed25519-nkey' })}.${part(claims)}.c2ln`;
  return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\nSUAX\n------END USER NKEY SEED------\n`;
}

describe('inboxPrefixOfCreds', () => {
  it('takes the one inbox prefix the user may subscribe below', () => {
    expect(inboxPrefixOfCreds(creds({ nats: { sub: { allow: ['_INBOX_proxy.>'] } } }))).toBe('_INBOX_proxy');
    expect(
      inboxPrefixOfCreds(new TextEncoder().encode(creds({ nats: { sub: { allow: ['x.y', '_INBOX_a-1.>'] } } }))),
    ).toBe('_INBOX_a-1');
  });

  it('keeps the default where the default inbox space is allowed, nothing restricts subscribing, or there is no JWT', () => {
    expect(inboxPrefixOfCreds(creds({ nats: { sub: { allow: ['_INBOX.>', '_INBOX_x.>'] } } }))).toBeUndefined();
    expect(inboxPrefixOfCreds(creds({ nats: { sub: {} } }))).toBeUndefined();
    expect(inboxPrefixOfCreds(creds({ nats: { sub: { allow: ['events.>'] } } }))).toBeUndefined();
    expect(inboxPrefixOfCreds('not a creds file')).toBeUndefined();
    expect(
      inboxPrefixOfCreds('-----BEGIN NATS USER JWT-----\nAAA.%%%.BBB\n------END NATS USER JWT------'),
    ).toBeUndefined();
  });
});
