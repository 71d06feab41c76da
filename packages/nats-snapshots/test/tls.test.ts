import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsServer, requireBinary, runCommand, startNatsServer } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, openSnapshotBucket, readSnapshot } from '../src/index.ts';

let dir: string;
let server: NatsServer;

/** A throw-away CA and a server certificate for 127.0.0.1, made with the openssl command. */
async function makeCertificates(into: string): Promise<void> {
  const openssl = requireBinary('openssl', 'OPENSSL_BIN');
  const run = async (args: string[]) => {
    const r = await runCommand(openssl, args, { cwd: into });
    if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} exited with ${r.code}: ${r.stderr}`);
  };
  await run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=pdrouter-test-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
  ]);
  await run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  ]);
  writeFileSync(join(into, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    'san.ext',
    '-out',
    'server.pem',
  ]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pdrouter-nats-tls-'));
  await makeCertificates(dir);
  server = await startNatsServer({
    extraArgs: ['--tls', '--tlscert', join(dir, 'server.pem'), '--tlskey', join(dir, 'server.key')],
  });
}, 60_000);

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('connectNats over TLS', () => {
  it('verifies the server with the given CA and works end to end', async () => {
    const nc = await connectNats({
      url: `tls://127.0.0.1:${server.port}`,
      name: 'tls-test',
      tls: { caFile: join(dir, 'ca.pem') },
    });
    try {
      const kv = await openSnapshotBucket(nc, { bucket: 'tls-bucket' });
      await kv.put('k', 'over tls');
      expect((await readSnapshot(kv, 'k'))?.raw).toBe('over tls');
    } finally {
      await nc.close();
    }
  });

  it('refuses a server its CA does not vouch for', async () => {
    await expect(connectNats({ url: `tls://127.0.0.1:${server.port}`, name: 'tls-test' })).rejects.toThrow(
      /cannot connect to NATS/,
    );
  });
});
