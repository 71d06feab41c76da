import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConsistentHashRing,
  encodeSnapshot,
  extractHashKey,
  fbiHash,
  headerLookupFrom,
  type Snapshot,
  u64ToHex,
} from '@pdrouter/core';
import { connectNats, openSnapshotBucket, ShardedSnapshotWriter, shardKey } from '@pdrouter/nats-snapshots';
import { startNatsServer } from '@pdrouter/testkit';
import { afterAll, describe, expect, test } from 'vitest';
import { REPO_ROOT, runCli, runCommand } from './run-cli.ts';

interface Vectors {
  hashes: { key: string; fbi_hash: string }[];
  rings: { urls: string[]; lookups: { key: string; owner: string }[] }[];
}
const vectors = JSON.parse(
  readFileSync(join(REPO_ROOT, 'packages/core/test/fixtures/vllm-router-ring.json'), 'utf8'),
) as Vectors;
const dir = mkdtempSync(join(tmpdir(), 'pdrouterctl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const snapshot: Snapshot = {
  pool: 'llama31',
  epoch: 2,
  seq: 41,
  time: '2026-11-25T10:00:00.000Z',
  members: {
    prefill: [0, 1, 2, 3].map((i) => ({
      name: `prefill-${i}`,
      uid: `p${i}`,
      url: `http://10.2.1.${130 + i}:8000`,
      ready: i !== 3,
    })),
    decode: [0, 1, 2].map((i) => ({
      name: `decode-${i}`,
      uid: `d${i}`,
      url: `http://10.2.1.${179 + i}:8200`,
      ready: true,
    })),
    plain: [],
  },
};
const snapshotFile = join(dir, 'snapshot.json');
writeFileSync(snapshotFile, encodeSnapshot(snapshot));

/** A port on 127.0.0.1 that was just free: bound, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function jsonLines(text: string): unknown[] {
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('pdrouterctl hash', () => {
  test('prints fbiHash as 16 hex digits, for every published vector', async () => {
    for (const v of vectors.hashes.slice(0, 5)) {
      const r = await runCli(['hash', v.key]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${v.fbi_hash}\n`);
    }
  });

  test('a key that starts with a dash goes after --', async () => {
    const r = await runCli(['hash', '--', '-k']);
    expect(r.stdout.trim()).toBe(u64ToHex(fbiHash('-k')));
  });

  test('usage errors exit 2 with a hint', async () => {
    const r = await runCli(['hash']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('hash takes exactly one KEY');
    expect(r.stderr).toContain('--help');
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const badFlag = await runCli(['route', '--nope']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain('unknown flag --nope');
  });

  test('--help prints the usage', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('pdrouterctl route');
    expect(r.stdout).toContain('pdrouterctl explain');
  });
});

describe('pdrouterctl route', () => {
  test('owners match the vllm-router ring vectors, one JSON object per key in input order', async () => {
    for (const ring of vectors.rings.slice(0, 4)) {
      const args = [
        'route',
        ...ring.urls.flatMap((u) => ['--member', u]),
        ...ring.lookups.flatMap((l) => ['--key', l.key]),
      ];
      const r = await runCli(args);
      expect(r.code).toBe(0);
      expect(jsonLines(r.stdout)).toEqual(
        ring.lookups.map((l) => ({ key: l.key, owner: l.owner, hash: u64ToHex(fbiHash(l.key)) })),
      );
    }
  });

  test('keys from a file of JSON strings; blank lines skipped; bad lines named', async () => {
    const ring = vectors.rings[1] as Vectors['rings'][0];
    const file = join(dir, 'keys.jsonl');
    writeFileSync(file, `${ring.lookups.map((l) => JSON.stringify(l.key)).join('\n')}\n\n`);
    const r = await runCli(['route', ...ring.urls.flatMap((u) => ['--member', u]), '--keys-file', 'keys.jsonl'], {
      cwd: dir,
    });
    expect(r.code).toBe(0);
    expect((jsonLines(r.stdout) as { owner: string }[]).map((x) => x.owner)).toEqual(ring.lookups.map((l) => l.owner));
    writeFileSync(file, '"ok"\nnot-json\n');
    const bad = await runCli(['route', '--member', 'http://a:1', '--keys-file', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('keys.jsonl:2: not JSON');
    const missing = await runCli(['route', '--member', 'http://a:1', '--keys-file', join(dir, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read keys file (ENOENT)');
  });

  test('--vnodes changes the ring', async () => {
    const members = ['http://10.0.0.1:8000', 'http://10.0.0.2:8000', 'http://10.0.0.3:8000'];
    const keys = Array.from({ length: 40 }, (_, i) => `user:${i}`);
    const r = await runCli([
      'route',
      '--vnodes',
      '7',
      ...members.flatMap((m) => ['--member', m]),
      ...keys.flatMap((k) => ['--key', k]),
    ]);
    const ring = new ConsistentHashRing(members, { vnodes: 7 });
    expect((jsonLines(r.stdout) as { owner: string }[]).map((x) => x.owner)).toEqual(keys.map((k) => ring.owner(k)));
    const bad = await runCli(['route', '--vnodes', 'x', '--member', 'http://a:1', '--key', 'k']);
    expect(bad.code).toBe(2);
  });

  test('members from a snapshot role (ready members only)', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `session:${i}`);
    const r = await runCli([
      'route',
      '--snapshot',
      snapshotFile,
      '--role',
      'prefill',
      ...keys.flatMap((k) => ['--key', k]),
    ]);
    expect(r.code).toBe(0);
    const ready = snapshot.members.prefill.filter((m) => m.ready).map((m) => m.url);
    const ring = new ConsistentHashRing(ready);
    const owners = (jsonLines(r.stdout) as { owner: string }[]).map((x) => x.owner);
    expect(owners).toEqual(keys.map((k) => ring.owner(k)));
    expect(owners).not.toContain('http://10.2.1.133:8000');
    const decode = await runCli(['route', '--snapshot', snapshotFile, '--role', 'decode', '--key', 'k']);
    expect((jsonLines(decode.stdout)[0] as { owner: string }).owner).toMatch(/:8200$/);
  });

  test('a bad snapshot file or a NATS source is a clear error', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...snapshot, epoch: -1 }));
    const r = await runCli(['route', '--snapshot', bad, '--key', 'k']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('epoch: must be a non-negative integer');
    // A NATS source with nothing listening fails at once, naming the source.
    const port = await closedPort();
    const nats = await runCli(['route', '--snapshot', `nats://127.0.0.1:${port}`, '--key', 'k']);
    expect(nats.code).toBe(1);
    expect(nats.stderr).toContain(`nats://127.0.0.1:${port}: cannot connect`);
  });
});

describe('pdrouterctl --snapshot nats://', () => {
  test('assembles a sharded snapshot from its shards, and names a missing shard', async () => {
    const server = await startNatsServer();
    const nc = await connectNats({ url: server.url, name: 'ctl-test-writer' });
    try {
      const kv = await openSnapshotBucket(nc);
      const big: Snapshot = {
        ...snapshot,
        members: {
          prefill: [],
          decode: Array.from({ length: 1_000 }, (_, i) => ({
            name: `decode-${i}`,
            uid: `d${i}`,
            url: `http://10.3.${i >> 8}.${i & 255}:8200`,
            ready: true,
          })),
          plain: [],
        },
      };
      const published = await new ShardedSnapshotWriter('llama31').publish(kv, big, 0);
      expect(published.shards).toBeGreaterThan(1);
      const keys = ['k1', 'k2', 'k3'];
      const r = await runCli([
        'route',
        '--snapshot',
        `${server.url}/llama31`,
        '--role',
        'decode',
        ...keys.flatMap((k) => ['--key', k]),
      ]);
      expect(r.stderr).toBe('');
      const ring = new ConsistentHashRing(big.members.decode.map((m) => m.url));
      expect((jsonLines(r.stdout) as { owner: string }[]).map((x) => x.owner)).toEqual(keys.map((k) => ring.owner(k)));

      const manifest = JSON.parse((await kv.get('llama31'))?.string() ?? '{}') as { shards: { digest: string }[] };
      const gone = shardKey('llama31', manifest.shards[0]?.digest ?? '');
      await kv.purge(gone);
      const missing = await runCli(['route', '--snapshot', `${server.url}/llama31`, '--key', 'k']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(gone);
    } finally {
      await nc.close();
      await server.close();
    }
  });
});

describe('pdrouterctl explain', () => {
  const body = { model: 'llama', prompt: 'Explain what machine learning is in simple terms.', max_tokens: 64 };

  test("prefill and decode pods with failover order: the ready members' ring walks", async () => {
    const r = await runCli(['explain', '--snapshot', snapshotFile, '--body', JSON.stringify(body)]);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.key).toBe(`request:${body.prompt}`);
    expect(out.hash).toBe(u64ToHex(fbiHash(out.key)));
    const prefill = new ConsistentHashRing(snapshot.members.prefill.filter((m) => m.ready).map((m) => m.url));
    const decode = new ConsistentHashRing(snapshot.members.decode.map((m) => m.url));
    expect(out.prefill.failover).toEqual(prefill.walk(out.key));
    expect(out.prefill.owner).toBe(out.prefill.failover[0]);
    expect(out.prefill.ownerName).toBe(snapshot.members.prefill.find((m) => m.url === out.prefill.owner)?.name);
    expect(out.prefill.failover).toHaveLength(3);
    expect(out.decode.failover).toEqual(decode.walk(out.key));
    expect(out.snapshot).toMatchObject({ pool: 'llama31', epoch: 2, seq: 41 });
    expect(out.snapshot.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  test('headers and hash-key modes', async () => {
    const file = join(dir, 'body.json');
    writeFileSync(file, JSON.stringify(body));
    const common = ['explain', '--prefill', 'http://10.0.0.1:8000', '--decode', 'http://10.0.0.2:8200', '--body', file];
    // vllm-router's PDRouter (what a P/D explain reproduces) does not look at headers.
    const vr = JSON.parse((await runCli([...common, '-H', 'X-Request-Id: r-1'])).stdout);
    expect(vr.key).toBe(extractHashKey(headerLookupFrom({}), body, { mode: 'vllm-router' }));
    expect(vr.key.startsWith('request')).toBe(true);
    const aff = JSON.parse(
      (await runCli([...common, '-H', 'X-Request-Id: r-1', '--hash-key-mode', 'affinity'])).stdout,
    );
    expect(aff.key).toBe(extractHashKey(headerLookupFrom({}), body, { mode: 'affinity' }));
    expect(aff.key.startsWith('prefix:')).toBe(true);
    const bad = await runCli([...common, '--hash-key-mode', 'sticky']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--hash-key-mode must be one of vllm-router, affinity');
  });

  test('the body from standard input; invalid JSON is a usage error', async () => {
    const chat = { messages: [{ role: 'user', content: 'hi' }], session_params: { session_id: 'alice' } };
    const args = ['explain', '--prefill', 'http://10.0.0.1:8000', '--decode', 'http://10.0.0.2:8200', '--body', '-'];
    const r = await runCli(args, { input: JSON.stringify(chat) });
    expect(JSON.parse(r.stdout).key).toBe('request:alice');
    const bad = await runCli(args, { input: '{"messages": [' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('standard input: the body is not valid JSON');
    const badUrl = await runCli(['explain', '--prefill', 'http://x:1/', '--decode', 'http://y:2', '--body', '{}']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('--prefill');
  });
});

describe('the root script', () => {
  // pnpm -s pdrouterctl runs the package script through scripts/run.sh: arguments must pass
  // through unchanged, with or without a leading "--".
  const env = { ...process.env, PATH: `${join(REPO_ROOT, '.toolchain/bin')}:${process.env.PATH ?? ''}` };

  test('pnpm -s pdrouterctl hash KEY', async () => {
    const v = vectors.hashes[0] as Vectors['hashes'][0];
    const r = await runCommand('pnpm', ['-s', 'pdrouterctl', 'hash', v.key], { env, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${v.fbi_hash}\n`);
  }, 70_000);

  test('pnpm -s pdrouterctl -- route ...', async () => {
    const ring = vectors.rings[0] as Vectors['rings'][0];
    const lookup = ring.lookups[0] as Vectors['rings'][0]['lookups'][0];
    const args = [
      '-s',
      'pdrouterctl',
      '--',
      'route',
      ...ring.urls.flatMap((u) => ['--member', u]),
      '--key',
      lookup.key,
    ];
    const r = await runCommand('pnpm', args, { env, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout)).toEqual([
      { key: lookup.key, owner: lookup.owner, hash: u64ToHex(fbiHash(lookup.key)) },
    ]);
  }, 70_000);
});
