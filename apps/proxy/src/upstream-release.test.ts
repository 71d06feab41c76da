import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from './config.ts';
import { parseFlags } from './flags.ts';
import { Upstreams } from './upstream.ts';

// Pools of pods that left are let go of once idle, so pod IPs changing with every restart do not grow
// the proxy by a pool per pod; a pool with a request on it is kept until that request is done.

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A pod: /slow holds its answer until `release()`, everything else answers at once. */
async function pod(): Promise<{ url: string; release: () => void }> {
  const held: (() => void)[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/slow') held.push(() => res.end('late'));
    else res.end('ok');
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    release: () => {
      for (const f of held.splice(0)) f();
    },
  };
}

const timeouts = buildConfig(parseFlags(['--snapshot-file', '/unused'])).timeouts;

describe('Upstreams.release', () => {
  it('closes and forgets idle pools of pods that left, keeps members and busy pools', async () => {
    const [a, b, c] = await Promise.all([pod(), pod(), pod()]);
    if (!a || !b || !c) throw new Error('pods');
    const upstreams = new Upstreams({ timeouts });
    try {
      for (const p of [a, b, c]) {
        const r = await upstreams.request(p.url, { method: 'GET', path: '/health', headers: {} });
        expect(await r.body.text()).toBe('ok');
      }
      // c has a request on it when it leaves.
      const slow = upstreams.request(c.url, { method: 'GET', path: '/slow', headers: {} });
      await new Promise((r) => setTimeout(r, 50));
      expect(upstreams.poolCount).toBe(3);
      expect(upstreams.release(new Set([a.url]))).toBe(1);
      expect(upstreams.poolCount).toBe(2);
      c.release();
      expect(await (await slow).body.text()).toBe('late');
      // Idle now: the next release lets it go.
      expect(upstreams.release(new Set([a.url]))).toBe(1);
      expect(upstreams.poolCount).toBe(1);
      // A pod that comes back (or a leg to one that left) gets a new pool.
      const again = await upstreams.request(b.url, { method: 'GET', path: '/health', headers: {} });
      expect(await again.body.text()).toBe('ok');
      expect(upstreams.poolCount).toBe(2);
      const member = await upstreams.request(a.url, { method: 'GET', path: '/health', headers: {} });
      expect(await member.body.text()).toBe('ok');
    } finally {
      await upstreams.close();
    }
  });
});
