// A real nats-server running the configuration gen-nats-auth generates (operator mode, both users), and
// connections as either user through the apps' own connectNats.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '@pdrouter/nats-snapshots';
import { type NatsServer, startNatsServer } from '@pdrouter/testkit';
import { generateNatsAuth, type NatsAuth } from '../../src/nats-auth/generate.ts';

export type NatsUser = 'discovery' | 'proxy';

export interface AuthNatsServer {
  readonly auth: NatsAuth;
  readonly server: NatsServer;
  /** The directory holding nats.conf, discovery.creds and proxy.creds. */
  readonly dir: string;
  credsFile(user: NatsUser): string;
  connectAs(user: NatsUser): Promise<NatsConnection>;
  close(): Promise<void>;
}

export async function startAuthNatsServer(): Promise<AuthNatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pdrouter-nats-auth-'));
  const auth = await generateNatsAuth({ storeDir: join(dir, 'store') });
  writeFileSync(join(dir, 'nats.conf'), auth.serverConfig);
  writeFileSync(join(dir, 'discovery.creds'), auth.discoveryCreds);
  writeFileSync(join(dir, 'proxy.creds'), auth.proxyCreds);
  // The config as shipped; the launcher's address and random port replace its 4222, `-m 0` turns its
  // monitor port (8222) off.
  const server = await startNatsServer({ jetstream: false, extraArgs: ['-c', join(dir, 'nats.conf'), '-m', '0'] });
  const connections: NatsConnection[] = [];
  const credsFile = (user: NatsUser) => join(dir, `${user}.creds`);
  return {
    auth,
    server,
    dir,
    credsFile,
    async connectAs(user) {
      const nc = await connectNats({ url: server.url, credsFile: credsFile(user), name: `test-${user}` });
      connections.push(nc);
      return nc;
    },
    async close() {
      for (const nc of connections) await nc.close().catch(() => undefined);
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
