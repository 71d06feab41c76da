import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServer, startNatsServer } from '../src/nats-server.ts';
import { canConnect } from '../src/tcp-probe.ts';

describe('startNatsServer', () => {
  let server: NatsServer;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('listens on a random port on 127.0.0.1', async () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    expect(server.running).toBe(true);
    expect(await canConnect('127.0.0.1', server.port)).toBe(true);
  });

  it('serves JetStream KV, and a restart keeps the value (same port, same store)', async () => {
    const port = server.port;
    let nc = await connect({ servers: server.url, timeout: 5_000 });
    try {
      const kv = await new Kvm(nc).create('testkit-check', { history: 1 });
      await kv.put('pool-a', 'hello');
      expect((await kv.get('pool-a'))?.string()).toBe('hello');
    } finally {
      await nc.close();
    }

    await server.restart();
    expect(server.port).toBe(port);

    nc = await connect({ servers: server.url, timeout: 5_000 });
    try {
      const kv = await new Kvm(nc).open('testkit-check');
      expect((await kv.get('pool-a'))?.string()).toBe('hello');
    } finally {
      await nc.close();
    }
  });

  it('kill() refuses connections until start() brings it back on the same port', async () => {
    const port = server.port;
    await server.kill();
    expect(server.running).toBe(false);
    expect(await canConnect('127.0.0.1', port)).toBe(false);
    await server.start();
    expect(server.port).toBe(port);
    const nc = await connect({ servers: server.url, timeout: 5_000 });
    try {
      const kv = await new Kvm(nc).open('testkit-check');
      expect((await kv.get('pool-a'))?.string()).toBe('hello');
    } finally {
      await nc.close();
    }
  });

  it('stop() releases the port', async () => {
    await server.stop();
    expect(server.running).toBe(false);
    expect(await canConnect('127.0.0.1', server.port)).toBe(false);
  });
});

describe('startNatsServer without the binary', () => {
  it('fails with a clear message instead of skipping', async () => {
    const saved = process.env.NATS_SERVER_BIN;
    process.env.NATS_SERVER_BIN = '/nonexistent/nats-server';
    try {
      await expect(startNatsServer()).rejects.toThrow(
        'nats-server not found on PATH: run scripts/ensure-system-deps.sh',
      );
    } finally {
      if (saved === undefined) delete process.env.NATS_SERVER_BIN;
      else process.env.NATS_SERVER_BIN = saved;
    }
  });

  it('starts on a fixed port when asked', async () => {
    const first = await startNatsServer({ jetstream: false });
    const port = first.port;
    await first.close();
    const fixed = await startNatsServer({ jetstream: false, port });
    try {
      expect(fixed.port).toBe(port);
      expect(await canConnect('127.0.0.1', port)).toBe(true);
    } finally {
      await fixed.close();
    }
  });
});
