// `--snapshot nats://HOST:PORT/POOL`: reads the pool's current snapshot from the discovery bucket once
// (the manifest under the pool key and the shards it lists, assembled only when all are there and match;
// or a single-value snapshot), with a deadline so an unreachable server fails the command instead of hanging.
import { readFile } from 'node:fs/promises';
import { Kvm } from '@nats-io/kv';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { encodeSnapshot } from '@pdrouter/core';
import {
  inboxPrefixOfCreds,
  type NatsSnapshotLocation,
  parseNatsSnapshotUrl,
  readAssembledSnapshot,
} from '@pdrouter/nats-snapshots';

/** Deadline for connecting and reading, end to end. */
export const NATS_READ_TIMEOUT_MS = 10_000;

/** nats://HOST:PORT[/POOL][?bucket=NAME]; the pool falls back to `defaultPool` (--pool, else "default"). */
export function parseNatsSource(source: string, defaultPool: string): NatsSnapshotLocation {
  try {
    return parseNatsSnapshotUrl(source, defaultPool);
  } catch (err) {
    throw new Error(`--snapshot ${(err as Error).message}`);
  }
}

/** The pool's whole snapshot as canonical JSON; throws an Error naming the source on any failure. */
export async function readNatsSnapshot(
  source: string,
  options: { pool?: string; natsCreds?: string; timeoutMs?: number },
): Promise<string> {
  const where = parseNatsSource(source, options.pool ?? 'default');
  const timeoutMs = options.timeoutMs ?? NATS_READ_TIMEOUT_MS;
  let creds: Uint8Array | undefined;
  if (options.natsCreds !== undefined) {
    try {
      creds = await readFile(options.natsCreds);
    } catch (err) {
      throw new Error(
        `cannot read NATS credentials ${options.natsCreds}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
  }
  let nc: Awaited<ReturnType<typeof connect>>;
  try {
    nc = await connect({
      servers: where.natsUrl,
      name: 'pdrouterctl',
      timeout: timeoutMs,
      reconnect: false,
      ...(creds === undefined ? {} : { authenticator: credsAuthenticator(creds) }),
      // Replies come to the inbox prefix the credential may subscribe to (see gen-nats-auth).
      ...(creds === undefined ? {} : withInboxPrefix(inboxPrefixOfCreds(creds))),
    });
  } catch (err) {
    throw new Error(`${source}: cannot connect to NATS at ${where.natsUrl}: ${(err as Error).message}`);
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const read = (async () => {
      const kv = await new Kvm(nc).open(where.bucket);
      return readAssembledSnapshot(kv, where.pool);
    })();
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    });
    let entry: Awaited<typeof read>;
    try {
      entry = await Promise.race([read, deadline]);
    } catch (err) {
      throw new Error(`${source}: cannot read ${where.bucket}/${where.pool}: ${(err as Error).message}`);
    }
    if (entry === undefined) {
      throw new Error(`${source}: no snapshot for pool ${JSON.stringify(where.pool)} in bucket ${where.bucket}`);
    }
    if (!entry.ok) throw new Error(`${source}: ${entry.error}`);
    return encodeSnapshot(entry.snapshot);
  } finally {
    clearTimeout(timer);
    await nc.close().catch(() => {});
  }
}

function withInboxPrefix(prefix: string | undefined): { inboxPrefix?: string } {
  return prefix === undefined ? {} : { inboxPrefix: prefix };
}
