#!/usr/bin/env node
// The floor for a Node proxy: node:http in, undici out, the pod picked on the same consistent-hash ring, each
// chunk written as it arrives, nothing else (no validation, no metrics, no failover, no timeouts beyond undici's).
// Used as a reference path by the overhead scenario, never as a router.
// `node bench/src/baselines/minimal-relay.ts --port P --worker-url URL [--worker-url URL ...]`
import { createServer } from 'node:http';
import { type FlagSpec, parseOrExit, parseScriptFlags, UsageError } from '@pdrouter/cli';
import { ConsistentHashRing, extractHashKey, fbiHash } from '@pdrouter/core';
import { Pool } from 'undici';

const FLAGS = [
  { name: 'port', type: 'int', min: 0, max: 65_535, default: 0, help: 'Port to listen on (0: a free one).' },
  { name: 'worker-url', type: 'repeat', valueName: 'URL', help: 'A pod; repeat for each.' },
] as const satisfies readonly FlagSpec[];
const PROGRAM = 'minimal-relay.ts';
const flags = parseScriptFlags(
  { program: PROGRAM, intro: ['Usage: node bench/src/baselines/minimal-relay.ts --port P --worker-url URL...'] },
  FLAGS,
);
const port = flags.port;
const workers = parseOrExit(PROGRAM, () => {
  if (flags['worker-url'].length === 0) throw new UsageError('give at least one --worker-url');
  return [...flags['worker-url']];
});
const ring = new ConsistentHashRing(workers);
const pools = new Map(ring.members.map((u) => [u, new Pool(u, { connections: null })] as const));

const server = createServer((req, res) => {
  const lookup = (name: string): string | undefined => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const key = extractHashKey(lookup, undefined, { mode: 'vllm-router', router: 'regular' });
  const pool = pools.get(ring.ownerOfHash(fbiHash(key)) as string) as Pool;
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    pool
      .request({
        path: req.url ?? '/',
        method: req.method as 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': lookup('x-request-id') ?? '' },
        body: Buffer.concat(chunks),
      })
      .then(
        (up) => {
          res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') });
          res.flushHeaders();
          up.body.on('data', (c: Buffer) => {
            if (!res.write(c)) up.body.pause();
          });
          res.on('drain', () => up.body.resume());
          up.body.on('end', () => res.end());
          up.body.on('error', () => res.destroy());
          res.on('close', () => up.body.destroy());
        },
        () => {
          res.writeHead(502).end();
        },
      );
  });
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
