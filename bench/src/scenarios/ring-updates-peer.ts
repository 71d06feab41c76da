// The router's peers in the ring-updates scenario, each in its own process so that neither their CPU nor
// their garbage lands on the measured event loop: `load` is the load generator (LOAD_CONCURRENCY clients
// against the routing server), `snapshots` is discovery (it builds each 10,000-pod snapshot and sends it as
// the wire carries it: JSON text, or a sharded manifest with the shards the router has not seen yet).
// Driven by the scenario over IPC: a request { id, op, ... } gets a reply { id, result } or { id, error }.
import { encodeManifest, type Member, type Snapshot, shardSnapshot } from '@pdrouter/core';
import { shardKey } from '@pdrouter/nats-snapshots';
import { Pool } from 'undici';
import { percentile } from '../loadgen/stats.ts';

export const LOAD_CONCURRENCY = 16;
/** Deadline of one request of the load: a stalled loop shows up as latency, a dead one as failures. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface Stats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export function stats(values: readonly number[]): Stats {
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    n: values.length,
    p50: round(percentile(values, 50)),
    p99: round(percentile(values, 99)),
    // A fold, not Math.max(...values): an idle machine serves more requests than the stack holds arguments.
    max: round(values.reduce((m, v) => Math.max(m, v), Number.NEGATIVE_INFINITY)),
  };
}

export interface LoadResult {
  requests: number;
  failed: number;
  latencyMs: Stats;
}

/** How the membership moves between two snapshots. */
export type Change = { kind: 'none' } | { kind: 'flip'; k: number } | { kind: 'replace'; share: number };

/** What the peers are asked. */
export type PeerRequest =
  | { op: 'load-start'; url: string }
  | { op: 'load-stop' }
  | { op: 'snapshot'; change: Change }
  | { op: 'sharded'; change: Change };

/** A sharded snapshot as the bucket gets it: the manifest, and the shards not put before (key, value). */
export interface ShardedPut {
  seq: number;
  manifest: string;
  shards: [string, string][];
}

/** A pod's member entry, distinct URLs for 10,000+ pods as pod IPs in a /16 would be; names sort as ids do. */
function podMember(i: number): Member {
  return {
    name: `decode-${String(i).padStart(6, '0')}`,
    uid: `uid-${i}`,
    url: `http://10.${(i >> 8) & 255}.${i & 255}.${i >> 16}:8200`,
    ready: true,
  };
}

/** The membership of one pool: ids in order, one pod leaving or joining at a time, or a share replaced at once. */
class Membership {
  private readonly ids: Set<number>;
  private nextId: number;
  private readonly members = new Map<number, Member>();
  seq = 0;

  constructor(pods: number) {
    this.ids = new Set(Array.from({ length: pods }, (_, i) => i));
    this.nextId = pods;
  }

  change(change: Change): void {
    if (change.kind === 'flip') {
      // The lowest id leaves, or a new pod joins, alternately.
      if (change.k % 2 === 0) this.ids.delete(this.ids.values().next().value as number);
      else this.ids.add(this.nextId++);
    } else if (change.kind === 'replace') {
      const count = Math.floor(this.ids.size * change.share);
      for (const id of [...this.ids].slice(0, count)) this.ids.delete(id);
      for (let i = 0; i < count; i++) this.ids.add(this.nextId++);
    }
  }

  next(): Snapshot {
    this.seq++;
    const decode = [...this.ids].map((i) => {
      let m = this.members.get(i);
      if (m === undefined) {
        m = podMember(i);
        this.members.set(i, m);
      }
      return m;
    });
    return {
      pool: 'default',
      epoch: 1,
      seq: this.seq,
      time: new Date().toISOString(),
      members: { prefill: [], decode, plain: [] },
    };
  }
}

function startLoad(url: string): { stop: () => Promise<LoadResult> } {
  const pool = new Pool(url, { connections: LOAD_CONCURRENCY });
  const latencies: number[] = [];
  let failed = 0;
  let running = true;
  let n = 0;
  const client = async () => {
    while (running) {
      const start = performance.now();
      try {
        const res = await pool.request({
          method: 'GET',
          path: `/session/${n++}`,
          headersTimeout: REQUEST_TIMEOUT_MS,
          bodyTimeout: REQUEST_TIMEOUT_MS,
        });
        await res.body.text();
        if (res.statusCode !== 200) failed++;
      } catch {
        failed++;
      }
      latencies.push(performance.now() - start);
    }
  };
  const clients = Array.from({ length: LOAD_CONCURRENCY }, client);
  return {
    async stop() {
      running = false;
      await Promise.all(clients);
      await pool.close();
      return { requests: latencies.length, failed, latencyMs: stats(latencies) };
    },
  };
}

function serve(pods: number): (request: PeerRequest) => Promise<unknown> {
  let load: ReturnType<typeof startLoad> | undefined;
  const plain = new Membership(pods);
  const sharded = new Membership(pods);
  let shardCount: number | undefined;
  const sent = new Set<string>();
  return async (request) => {
    switch (request.op) {
      case 'load-start':
        if (load !== undefined) throw new Error('load already running');
        load = startLoad(request.url);
        return null;
      case 'load-stop': {
        if (load === undefined) throw new Error('no load running');
        const result = await load.stop();
        load = undefined;
        return result;
      }
      case 'snapshot':
        plain.change(request.change);
        return JSON.stringify(plain.next());
      case 'sharded': {
        sharded.change(request.change);
        const out = shardSnapshot(sharded.next(), shardCount);
        shardCount = out.manifest.shards.length;
        const shards: [string, string][] = [];
        for (const shard of out.shards) {
          const key = shardKey('default', shard.digest);
          if (sent.has(key)) continue;
          sent.add(key);
          shards.push([key, shard.raw]);
        }
        return { seq: sharded.seq, manifest: encodeManifest(out.manifest), shards } satisfies ShardedPut;
      }
    }
  };
}

if (process.send !== undefined) {
  const pods = Number(process.argv[2]);
  if (!Number.isInteger(pods) || pods <= 0) throw new Error(`ring-updates peer: pods '${process.argv[2]}'`);
  const handle = serve(pods);
  process.on('message', (message: { id: number } & PeerRequest) => {
    handle(message).then(
      (result) => process.send?.({ id: message.id, result }),
      (err: unknown) => process.send?.({ id: message.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  // The scenario's end (or death) closes the channel: nothing is left to do.
  process.on('disconnect', () => process.exit(0));
}
