// Subject permissions of the two NATS users, per snapshot bucket. NATS KV is a JetStream stream named
// KV_<bucket>; values live on subjects $KV.<bucket>.<key>. https://docs.nats.io/nats-concepts/jetstream/key-value-store
// The reader's list is exactly what @pdrouter/nats-snapshots does to open a bucket without creating it,
// read the current value and watch it (an ordered consumer with flow control); a test runs those calls
// against a real nats-server with these permissions.

export interface SubjectPermissions {
  readonly pub: { readonly allow: readonly string[] };
  readonly sub: { readonly allow: readonly string[] };
}

/**
 * Each user's reply inboxes (and its ordered consumers' deliver subjects) live below a prefix of its own,
 * and it may subscribe there only: no user can read another's request replies or consumer deliveries.
 * The clients take the prefix from their credential (@pdrouter/nats-snapshots inboxPrefixOfCreds).
 */
export function inboxPrefixOf(user: string): string {
  return `_INBOX_${user}`;
}

/**
 * discovery: creates/updates the bucket, writes the pool's manifest and shard keys, lists its shard keys
 * (a headers-only ordered consumer filtered on the bucket, as nats.js kv.keys creates it) and purges
 * unreferenced shards (a stream purge filtered on one key's subject).
 */
export function publisherPermissions(bucket: string, user = 'discovery'): SubjectPermissions {
  const stream = `KV_${bucket}`;
  return {
    pub: {
      allow: [
        '$JS.API.INFO',
        `$JS.API.STREAM.CREATE.${stream}`,
        `$JS.API.STREAM.UPDATE.${stream}`,
        `$JS.API.STREAM.INFO.${stream}`,
        `$JS.API.STREAM.MSG.GET.${stream}`,
        `$JS.API.DIRECT.GET.${stream}`,
        `$JS.API.DIRECT.GET.${stream}.>`,
        `$JS.API.STREAM.PURGE.${stream}`,
        `$JS.API.CONSUMER.CREATE.${stream}.*.$KV.${bucket}.>`,
        `$JS.API.CONSUMER.INFO.${stream}.*`,
        `$JS.FC.${stream}.>`,
        `$KV.${bucket}.>`,
      ],
    },
    sub: { allow: [`${inboxPrefixOf(user)}.>`] },
  };
}

/**
 * The core NATS subjects on which proxy replicas share their in-flight counts: one per pool of this bucket,
 * `pdrouter.load.<bucket>.<pool>` (core loadShareSubject; a pool name may hold dots, hence `>`). Plain
 * publish and subscribe, no JetStream: a count is worth something only for a moment.
 */
export function loadShareSubjects(bucket: string): string {
  return `pdrouter.load.${bucket}.>`;
}

/**
 * proxies and pdrouterctl: read and watch only; no write to $KV.>, no stream management. Besides the
 * bucket, the pool's shared-load subjects (loadShareSubjects), to publish and to subscribe. A watch is an
 * ordered consumer that nats.js creates through the named-create API with the watched key as its filter
 * (`CONSUMER.CREATE.<stream>.<random name>.$KV.<bucket>.<key>`), delivering to the user's own inbox
 * prefix; that is the only consumer subject allowed. Refused: consumers on any other stream or without a
 * filter in this bucket, the legacy ephemeral and durable create subjects, consumer info, names and list
 * (so no reader learns another's consumer or deliver subject), and delete (a reset ordered consumer's
 * predecessor is left to its inactivity threshold). What subjects cannot tell apart: a durable_name in the
 * body of a named create; see docs/security.md.
 */
export function readerPermissions(bucket: string, user = 'proxy'): SubjectPermissions {
  const stream = `KV_${bucket}`;
  return {
    pub: {
      allow: [
        '$JS.API.INFO',
        `$JS.API.STREAM.INFO.${stream}`,
        `$JS.API.STREAM.MSG.GET.${stream}`,
        `$JS.API.DIRECT.GET.${stream}`,
        `$JS.API.DIRECT.GET.${stream}.>`,
        `$JS.API.CONSUMER.CREATE.${stream}.*.$KV.${bucket}.>`,
        // Flow-control replies of the ordered consumer's push deliveries.
        `$JS.FC.${stream}.>`,
        loadShareSubjects(bucket),
      ],
    },
    sub: { allow: [`${inboxPrefixOf(user)}.>`, loadShareSubjects(bucket)] },
  };
}
