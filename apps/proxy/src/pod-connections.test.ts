import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PodConnections } from './pod-connections.ts';

// A pod's connections on a real HTTP server: an idle one is reused, a busy one gets company up to the
// limit, past it a request waits its turn; closing ends them.

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function pod(): Promise<{ url: string; sockets: Set<Socket>; release: () => void; inFlight: () => number }> {
  const sockets = new Set<Socket>();
  const held: (() => void)[] = [];
  let running = 0;
  const server = createServer((req, res) => {
    running++;
    const done = () => {
      running--;
      res.end(req.url);
    };
    if (req.url === '/slow') held.push(done);
    else done();
  });
  server.on('connection', (s) => sockets.add(s));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sockets,
    release: () => {
      for (const f of held.splice(0)) f();
    },
    inFlight: () => running,
  };
}

const options = { pipelining: 1, keepAliveTimeout: 10_000 };
const get = (c: PodConnections, path: string) => c.request({ method: 'GET', path }).then((r) => r.body.text());

describe('PodConnections', () => {
  it('reuses an idle connection for requests one after the other', async () => {
    const p = await pod();
    const c = new PodConnections(p.url, options);
    for (let i = 0; i < 5; i++) expect(await get(c, `/n${i}`)).toBe(`/n${i}`);
    expect(p.sockets.size).toBe(1);
    await c.close();
  });

  it('opens a connection per concurrent request without a limit', async () => {
    const p = await pod();
    const c = new PodConnections(p.url, { ...options, connections: null });
    const slow = [get(c, '/slow'), get(c, '/slow'), get(c, '/slow')];
    await waitFor(() => p.inFlight() === 3);
    expect(p.sockets.size).toBe(3);
    expect(c.stats.running + c.stats.pending).toBe(3);
    p.release();
    expect(await Promise.all(slow)).toEqual(['/slow', '/slow', '/slow']);
    await c.close();
  });

  it('holds at most `connections`; a request past them waits, then runs', async () => {
    const p = await pod();
    const c = new PodConnections(p.url, { ...options, connections: 2 });
    const first = [get(c, '/slow'), get(c, '/slow')];
    await waitFor(() => p.inFlight() === 2);
    const third = get(c, '/fast');
    await new Promise((r) => setTimeout(r, 100));
    // Two connections, both busy: the third request is queued, not sent.
    expect(p.sockets.size).toBe(2);
    expect(p.inFlight()).toBe(2);
    p.release();
    expect(await Promise.all([...first, third])).toEqual(['/slow', '/slow', '/fast']);
    expect(p.sockets.size).toBe(2);
    await c.close();
  });

  it('refuses requests once closed', async () => {
    const p = await pod();
    const c = new PodConnections(p.url, options);
    expect(await get(c, '/x')).toBe('/x');
    await c.close();
    await expect(get(c, '/y')).rejects.toThrow(/closed/);
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
