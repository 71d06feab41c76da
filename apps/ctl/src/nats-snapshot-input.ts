// `--snapshot nats://HOST:PORT/POOL`: reads the pool's current snapshot from the discovery bucket once
// (a JetStream KV get), with a deadline so an unreachable server fails the command instead of hanging.
import { readFile } from 'node:fs/promises';
import { Kvm } from '@nats-io/kv';
import { connect, credsAuthenticator } from '@nats-io/transport-node';

/** The bucket apps/discovery publishes into (see @pdrouter/nats-snapshots). */
export const DEFAULT_SNAPSHOT_BUCKET = 'pdrouter-snapshots';
/** Deadline for connecting and reading, end to end. */
export const NATS_READ_TIMEOUT_MS = 10_000;

export interface NatsSnapshotLocation {
  server: string;
  pool: string;
  bucket: string;
}

/** nats://HOST:PORT[/POOL][?bucket=NAME]; the pool falls back to `defaultPool` (--pool, else "default"). */
export function parseNatsSource(source: string, defaultPool: string): NatsSnapshotLocation {
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new Error(`${source}: not a URL (expected nats://HOST:PORT/POOL)`);
  }
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:') {
    throw new Error(`${source}: only nats:// and tls:// servers are supported`);
  }
  if (url.hostname === '') throw new Error(`${source}: missing host`);
  const path = decodeURIComponent(url.pathname.replace(/^\/+|\/+$/g, ''));
  if (path.includes('/')) throw new Error(`${source}: the path names one pool, got ${JSON.stringify(path)}`);
  const auth = url.username === '' ? '' : `${url.username}${url.password === '' ? '' : `:${url.password}`}@`;
  return {
    server: `${url.protocol}//${auth}${url.host}`,
    pool: path === '' ? defaultPool : path,
    bucket: url.searchParams.get('bucket') ?? DEFAULT_SNAPSHOT_BUCKET,
  };
}

/** The raw stored value of the pool key; throws an Error naming the source on any failure. */
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
      servers: where.server,
      name: 'pdrouterctl',
      timeout: timeoutMs,
      reconnect: false,
      ...(creds === undefined ? {} : { authenticator: credsAuthenticator(creds) }),
    });
  } catch (err) {
    throw new Error(`${source}: cannot connect to NATS at ${where.server}: ${(err as Error).message}`);
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const read = (async () => {
      const kv = await new Kvm(nc).open(where.bucket);
      return kv.get(where.pool);
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
    if (entry === null || entry.operation !== 'PUT') {
      throw new Error(`${source}: no snapshot for pool ${JSON.stringify(where.pool)} in bucket ${where.bucket}`);
    }
    return entry.string();
  } finally {
    clearTimeout(timer);
    await nc.close().catch(() => {});
  }
}
