import { DEFAULT_SNAPSHOT_BUCKET } from './bucket.ts';

export interface NatsSnapshotLocation {
  /** The server URL without the path: nats://host:port (credentials in the URL are kept). */
  natsUrl: string;
  pool: string;
  bucket: string;
}

/**
 * Parses `nats://HOST:PORT/POOL` (or `tls://...`), optionally `?bucket=NAME`, as used by
 * `pdrouterctl --snapshot`. Without a path the pool is `defaultPool` when one is given (else an error).
 * Throws an Error with a precise message on anything else.
 */
export function parseNatsSnapshotUrl(input: string, defaultPool?: string): NatsSnapshotLocation {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(input)} (expected nats://HOST:PORT/POOL)`);
  }
  if (url.protocol !== 'nats:' && url.protocol !== 'tls:') {
    throw new Error(`unsupported scheme ${url.protocol} in ${JSON.stringify(input)} (expected nats:// or tls://)`);
  }
  if (url.hostname === '') throw new Error(`missing host in ${JSON.stringify(input)}`);
  const pool = decodeURIComponent(url.pathname.replace(/^\/+/, '').replace(/\/+$/, '')) || (defaultPool ?? '');
  if (pool === '') throw new Error(`missing pool in ${JSON.stringify(input)} (expected nats://HOST:PORT/POOL)`);
  if (pool.includes('/')) throw new Error(`pool name may not contain "/": ${JSON.stringify(pool)}`);
  const bucket = url.searchParams.get('bucket') ?? DEFAULT_SNAPSHOT_BUCKET;
  const auth = url.username === '' ? '' : `${url.username}${url.password === '' ? '' : `:${url.password}`}@`;
  return { natsUrl: `${url.protocol}//${auth}${url.host}`, pool, bucket };
}
