// Subject permissions of the two NATS users, per snapshot bucket. NATS KV is a JetStream stream named
// KV_<bucket>; values live on subjects $KV.<bucket>.<key>. https://docs.nats.io/nats-concepts/jetstream/key-value-store
// The reader's list is exactly what @pdrouter/nats-snapshots does to open a bucket without creating it,
// read the current value and watch it (an ordered consumer with flow control); a test runs those calls
// against a real nats-server with these permissions.

export interface SubjectPermissions {
  readonly pub: { readonly allow: readonly string[] };
  readonly sub: { readonly allow: readonly string[] };
}

const INBOX = '_INBOX.>';

/** discovery: creates/updates the bucket and writes the pool's key. */
export function publisherPermissions(bucket: string): SubjectPermissions {
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
        `$KV.${bucket}.>`,
      ],
    },
    sub: { allow: [INBOX] },
  };
}

/** proxies and pdrouterctl: read and watch only; no write to $KV.>, no stream management. */
export function readerPermissions(bucket: string): SubjectPermissions {
  const stream = `KV_${bucket}`;
  return {
    pub: {
      allow: [
        '$JS.API.INFO',
        `$JS.API.STREAM.INFO.${stream}`,
        `$JS.API.STREAM.MSG.GET.${stream}`,
        `$JS.API.DIRECT.GET.${stream}`,
        `$JS.API.DIRECT.GET.${stream}.>`,
        `$JS.API.CONSUMER.CREATE.${stream}`,
        `$JS.API.CONSUMER.CREATE.${stream}.>`,
        `$JS.API.CONSUMER.INFO.${stream}.>`,
        // No CONSUMER.DELETE: a watch's ordered consumer is ephemeral and goes away with its subscription,
        // so a reader never needs to delete one, and must not be able to delete another reader's.
        `$JS.FC.${stream}.>`,
      ],
    },
    sub: { allow: [INBOX] },
  };
}
