// A 10,000-pod pool end to end: discovery (its informer against the wire-level Kubernetes API fake through
// the real client-node, leader on a Lease) shards the snapshot into a real nats-server, and the proxy's NATS
// source and RouterState assemble and apply it. A one-pod change writes one shard; a heartbeat none.

import type { Snapshot } from '@pdrouter/core';
import { createDiscovery, createLogger, type Discovery, parseDiscoveryArgs } from '@pdrouter/discovery';
import {
  type KubeApiFake,
  type NatsServer,
  podManifest,
  startKubeApiFake,
  startNatsServer,
  waitUntil,
} from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsSnapshotSource } from '../src/nats-source.ts';
import { RouterState } from '../src/router-state.ts';
import type { SnapshotSource } from '../src/snapshot-source.ts';

const DECODE = 9_000;
const PREFILL = 1_000;

let nats: NatsServer;
let api: KubeApiFake;
let discovery: Discovery;
let source: SnapshotSource;
const state = new RouterState({ vnodes: 160 });
const applied: Snapshot[] = [];
const rejected: string[] = [];

const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

async function writes(kind: 'manifest' | 'shard'): Promise<number> {
  const metric = await discovery.metrics.snapshotWrites.get();
  return metric.values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

beforeAll(async () => {
  nats = await startNatsServer();
  api = await startKubeApiFake();
  for (let i = 0; i < PREFILL; i++) {
    api.createPod(podManifest({ name: `prefill-${i}`, role: 'prefill', ip: ip(i), port: 8000, bootstrapPort: 8998 }));
  }
  for (let i = 0; i < DECODE; i++) {
    api.createPod(podManifest({ name: `decode-${i}`, role: 'decode', ip: ip(100_000 + i), port: 8200 }));
  }
  const parsed = parseDiscoveryArgs([
    '--prefill-selector',
    'llm-d.ai/role=prefill',
    '--decode-selector',
    'llm-d.ai/role=decode',
    '--namespace',
    api.namespace,
    '--kubeconfig',
    api.kubeconfigPath,
    '--nats-url',
    nats.url,
    '--http-port',
    '0',
    '--http-host',
    '127.0.0.1',
    '--heartbeat-secs',
    '1',
    '--debounce-ms',
    '50',
    '--identity',
    'sharded-e2e',
  ]);
  if (parsed.help) throw new Error('unexpected --help');
  discovery = createDiscovery(parsed.config, { logger: createLogger('error', () => {}) });
  await discovery.start();
  source = natsSnapshotSource({ url: nats.url, pool: 'default' });
  await source.start(
    (s) => {
      applied.push(s);
      void state.apply(s);
    },
    // A watch started before discovery created the bucket reports `source` until it exists: only values count here.
    (reason, kind = 'source') => {
      if (kind !== 'source') rejected.push(`${kind}: ${reason}`);
    },
  );
}, 60_000);

afterAll(async () => {
  await source?.close();
  await discovery?.stop();
  await state.close();
  await api?.close();
  await nats?.close();
});

describe('a 10,000-pod pool through discovery, NATS and the proxy', () => {
  it('the proxy applies the whole pool, a one-pod change (one shard written) and heartbeats (no shard)', async () => {
    await waitUntil(() => state.table?.members.decode.length === DECODE || undefined, {
      timeoutMs: 40_000,
      description: 'the proxy on the 10,000-pod rings',
    });
    expect(state.table?.members.prefill).toHaveLength(PREFILL);
    await expect(discovery.metrics.snapshotShards.get()).resolves.toMatchObject({ values: [{ value: 64 }] });
    const shardsBefore = await writes('shard');
    expect(shardsBefore).toBe(64);

    api.setPodReady('decode-4321', false);
    await waitUntil(() => state.table?.members.decode.length === DECODE - 1 || undefined, {
      timeoutMs: 15_000,
      description: 'the proxy without decode-4321',
    });
    expect(state.table?.byKey.has(`http://${ip(104_321)}:8200`)).toBe(false);
    expect(await writes('shard')).toBe(shardsBefore + 1);

    const manifests = await writes('manifest');
    const appliedBefore = applied.length;
    await waitUntil(async () => (await writes('manifest')) >= manifests + 2 || undefined, {
      timeoutMs: 10_000,
      description: 'two heartbeats',
    });
    expect(await writes('shard')).toBe(shardsBefore + 1);
    await waitUntil(() => applied.length >= appliedBefore + 2 || undefined, { description: 'the heartbeats applied' });
    expect(state.table?.members.decode).toHaveLength(DECODE - 1);
    expect(rejected).toEqual([]);
  }, 60_000);
});
