/**
 * The reply-inbox prefix a NATS credential allows. A user whose permissions let it subscribe only below
 * one prefix (`_INBOX_proxy.>`, as gen-nats-auth grants, so no user can read another's request replies
 * or consumer deliveries) must create its inboxes there, or every request and watch it makes would be
 * refused. The prefix is read from the credential's own user JWT (`nats.sub.allow`): nothing to configure
 * twice, and a credential that allows `_INBOX.>` (or sets no subscribe permissions) keeps the default.
 */

/** The default inbox prefix of the NATS clients. */
export const DEFAULT_INBOX_PREFIX = '_INBOX';

/**
 * The inbox prefix for the user JWT in a .creds file's text: undefined for the default one (allowed, or
 * no subscribe limits, or no JWT found), else the single `_INBOX…` prefix the JWT allows subscribing below.
 */
export function inboxPrefixOfCreds(creds: string | Uint8Array): string | undefined {
  const text = typeof creds === 'string' ? creds : new TextDecoder().decode(creds);
  const jwt = /-----BEGIN NATS USER JWT-----\s*([A-Za-z0-9_.-]+)\s*-+END NATS USER JWT-+/.exec(text)?.[1];
  const payload = jwt?.split('.')[1];
  if (payload === undefined) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const allow = (claims as { nats?: { sub?: { allow?: unknown } } }).nats?.sub?.allow;
  if (!Array.isArray(allow) || allow.length === 0) return undefined;
  const prefixes = allow
    .filter((s): s is string => typeof s === 'string')
    .map((s) => /^(_INBOX[A-Za-z0-9_-]*)\.>$/.exec(s)?.[1])
    .filter((p): p is string => p !== undefined);
  if (prefixes.includes(DEFAULT_INBOX_PREFIX) || prefixes.length === 0) return undefined;
  return prefixes[0];
}
