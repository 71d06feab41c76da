import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { inboxPrefixOfCreds } from './inbox-prefix.ts';

/** Pause between reconnect attempts; the client retries forever so a NATS outage never ends the process. */
export const NATS_RECONNECT_WAIT_MS = 500;
/** Random extra delay per reconnect attempt, so a fleet of replicas does not reconnect in lock-step. */
export const NATS_RECONNECT_JITTER_MS = 250;
/** How often the client pings the server; with NATS_MAX_PINGS_OUT this bounds how long a dead server goes unnoticed. */
export const NATS_PING_INTERVAL_MS = 5_000;
export const NATS_MAX_PINGS_OUT = 2;
/** Deadline for one connection attempt (TCP + handshake). */
export const NATS_CONNECT_TIMEOUT_MS = 5_000;

export interface ConnectNatsOptions {
  /** One server URL or a comma-separated list: nats://host:4222, tls://host:4222. */
  url: string;
  /** A NATS .creds file (JWT + nkey seed); read once at connect time. */
  credsFile?: string;
  /** Connection name shown by the server (e.g. `pdrouter-proxy`). */
  name: string;
  /** TLS files (PEM): a CA to verify the server, and a client certificate and key for mutual TLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /**
   * When true, a server that is down at start-up is retried in the background instead of failing the
   * call (the promise resolves once connected). Default false: fail fast with a clear error.
   */
  waitOnFirstConnect?: boolean;
}

/** Connects with settings suited to a long-lived control-plane client: unlimited reconnects, short pings. */
export async function connectNats(options: ConnectNatsOptions): Promise<NatsConnection> {
  const servers = options.url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0) throw new Error('NATS URL is empty');
  let authenticator: ReturnType<typeof credsAuthenticator> | undefined;
  let inboxPrefix: string | undefined;
  if (options.credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(options.credsFile);
    } catch (err) {
      throw new Error(`cannot read NATS credentials file ${options.credsFile}: ${(err as Error).message}`);
    }
    authenticator = credsAuthenticator(creds);
    // Replies and watch deliveries go where this user may subscribe (its own prefix, not `_INBOX.>`).
    inboxPrefix = inboxPrefixOfCreds(creds);
  }
  try {
    return await connect({
      servers,
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
      reconnectJitter: NATS_RECONNECT_JITTER_MS,
      pingInterval: NATS_PING_INTERVAL_MS,
      maxPingOut: NATS_MAX_PINGS_OUT,
      timeout: NATS_CONNECT_TIMEOUT_MS,
      waitOnFirstConnect: options.waitOnFirstConnect ?? false,
      ...(authenticator === undefined ? {} : { authenticator }),
      ...(inboxPrefix === undefined ? {} : { inboxPrefix }),
      ...(options.tls === undefined ? {} : { tls: { ...options.tls } }),
    });
  } catch (err) {
    throw new Error(`cannot connect to NATS at ${servers.join(',')}: ${(err as Error).message}`);
  }
}
