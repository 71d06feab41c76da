// Bytes the discovery leader writes to NATS per one-pod change and per heartbeat, at 1,000, 5,000 and
// 10,000 pods: the single-value encoding (one canonical snapshot per pool, computed: past ~7,300 pods it is
// above NATS's 1 MiB max_payload and cannot be written) against the sharded encoding (manifest + changed
// shards), written for real through ShardedSnapshotWriter to a real nats-server, as discovery writes it.
import { encodeSnapshot, type Member, type Snapshot } from '@pdrouter/core';
import { connectNats, openSnapshotBucket, ShardedSnapshotWriter } from '@pdrouter/nats-snapshots';
import { startNatsServer } from '@pdrouter/testkit';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import { percentile } from '../loadgen/stats.ts';
import type { ScenarioContext } from './context.ts';

const SIZES = [1_000, 5_000, 10_000];
const CHANGES = 30;
const QUICK_CHANGES = 9;
const HEARTBEATS = 10;
const QUICK_HEARTBEATS = 3;
/** NATS's default max_payload: a single KV value larger than this cannot be written. */
const MAX_PAYLOAD = 1_048_576;
/** Proxies reading every write, for the fan-out column (the example fleet). */
const PROXIES = 200;
const EPOCH = 1_767_225_600_000;

/** A pod as the API server names it: Deployment and ReplicaSet hash, a 5-character suffix, a v4-shaped uid. */
function pod(i: number, generation = 0): Member {
  const role = i % 4 === 0 ? 'prefill' : 'decode';
  const suffix = ((i * 2_654_435_761 + generation * 40_503) >>> 0).toString(36).slice(-5).padStart(5, 'x');
  const hex = (n: number, width: number) => (n >>> 0).toString(16).padStart(width, '0').slice(-width);
  const m: Member = {
    name: `llama31-${role}-7c9f8d6b5-${suffix}${i.toString(36)}`,
    uid: `${hex(i * 97 + generation, 8)}-${hex(i, 4)}-4${hex(generation, 3)}-a${hex(i * 7, 3)}-${hex(i * 31, 12)}`,
    url: `http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8000`,
    ready: true,
  };
  if (role === 'prefill') m.bootstrapPort = 8998;
  return m;
}

function poolOf(n: number): Snapshot {
  const prefill: Member[] = [];
  const decode: Member[] = [];
  for (let i = 0; i < n; i++) (i % 4 === 0 ? prefill : decode).push(pod(i));
  return {
    pool: 'llama31',
    epoch: EPOCH,
    seq: 1,
    time: new Date(EPOCH).toISOString(),
    members: { prefill, decode, plain: [] },
  };
}

type ChangeKind = 'leave' | 'join' | 'replace';
const KINDS: readonly ChangeKind[] = ['leave', 'join', 'replace'];

/** One pod leaves, joins or is replaced (same name, new uid and IP), cycling through the three. */
function change(s: Snapshot, k: number, n: number): Snapshot {
  const kind = KINDS[k % KINDS.length] as ChangeKind;
  const decode = [...s.members.decode];
  const at = (k * 7_919) % decode.length;
  if (kind === 'leave') decode.splice(at, 1);
  else if (kind === 'join') decode.push(pod(n + k * 4 + 1, k));
  else {
    const old = decode[at] as Member;
    decode[at] = {
      ...old,
      uid: `${old.uid.slice(0, -4)}${(k + 4_096).toString(16).slice(-4)}`,
      url: `http://10.200.${k & 255}.${(k >> 8) & 255}:8000`,
    };
  }
  decode.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { ...s, seq: s.seq + 1, time: new Date(EPOCH + s.seq + 1).toISOString(), members: { ...s.members, decode } };
}

interface Row {
  pods: number;
  singleValueBytes: number;
  singleValueWritable: boolean;
  shards: number;
  sharded: {
    firstPublicationBytes: number;
    perChange: { meanBytes: number; maxBytes: number; shardsWrittenMax: number; publishMsP50: number };
    perHeartbeat: { meanBytes: number; maxBytes: number; shardsWritten: number };
    wholeMembershipBytes: number;
  };
}

export async function runSnapshotBytesScenario(ctx: ScenarioContext): Promise<void> {
  const machine = machineInfo();
  const changes = ctx.quick ? QUICK_CHANGES : CHANGES;
  const heartbeats = ctx.quick ? QUICK_HEARTBEATS : HEARTBEATS;
  const server = await startNatsServer();
  const nc = await connectNats({ url: server.url, name: 'bench-snapshot-bytes' });
  const rows: Row[] = [];
  try {
    for (const pods of SIZES) {
      const kv = await openSnapshotBucket(nc, { bucket: `bench-bytes-${pods}` });
      const writer = new ShardedSnapshotWriter('llama31');
      let s = poolOf(pods);
      const first = await writer.publish(kv, s, 0);
      let revision = first.revision;
      const changeBytes: number[] = [];
      const changeShards: number[] = [];
      const publishMs: number[] = [];
      for (let k = 0; k < changes; k++) {
        s = change(s, k, pods);
        const t0 = performance.now();
        const r = await writer.publish(kv, s, revision);
        publishMs.push(performance.now() - t0);
        revision = r.revision;
        changeBytes.push(r.shardBytes + r.manifestBytes);
        changeShards.push(r.shardsWritten);
      }
      const heartbeatBytes: number[] = [];
      let heartbeatShards = 0;
      for (let h = 0; h < heartbeats; h++) {
        s = { ...s, seq: s.seq + 1, time: new Date(EPOCH + s.seq + 1).toISOString() };
        const r = await writer.publish(kv, s, revision);
        revision = r.revision;
        heartbeatBytes.push(r.shardBytes + r.manifestBytes);
        heartbeatShards += r.shardsWritten;
      }
      const single = Buffer.byteLength(encodeSnapshot(s));
      const mean = (v: number[]) => Math.round(v.reduce((a, b) => a + b, 0) / v.length);
      const last = await writer.publish(kv, { ...s, seq: s.seq + 1 }, revision);
      rows.push({
        pods,
        singleValueBytes: single,
        singleValueWritable: single <= MAX_PAYLOAD,
        shards: last.shards,
        sharded: {
          firstPublicationBytes: first.shardBytes + first.manifestBytes,
          perChange: {
            meanBytes: mean(changeBytes),
            maxBytes: Math.max(...changeBytes),
            shardsWrittenMax: Math.max(...changeShards),
            publishMsP50: Math.round(percentile(publishMs, 50) * 10) / 10,
          },
          perHeartbeat: {
            meanBytes: mean(heartbeatBytes),
            maxBytes: Math.max(...heartbeatBytes),
            shardsWritten: heartbeatShards,
          },
          wholeMembershipBytes: last.snapshotBytes,
        },
      });
      ctx.log(
        `${pods} pods: single value ${single} B; sharded change ${mean(changeBytes)} B, heartbeat ${mean(heartbeatBytes)} B`,
      );
    }
  } finally {
    await nc.close();
    await server.close();
  }
  const kb = (n: number) => fmt(n / 1000, 1);
  const md = [
    '# Snapshot bytes per change and per heartbeat',
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `Bytes the discovery leader writes to the bucket. Single value: the whole canonical snapshot per publication (the encoding before shards; its size computed, since above NATS's ${MAX_PAYLOAD}-byte max_payload it cannot be written). Sharded: the manifest plus every shard whose members changed, written through ShardedSnapshotWriter to a real nats-server. ${changes} one-pod changes (a pod leaves, joins, or is replaced with a new uid and IP, in turn) and ${heartbeats} heartbeats per size; pod names, uids and URLs have the API server's lengths (a quarter prefill, with a bootstrap port). Each proxy reads the same bytes again (its watch gets the manifest, then it fetches the changed shards), so a fleet of ${PROXIES} proxies multiplies them by ${PROXIES}. Sizes only: nothing here is timed but the writer's publish (encoding and NATS round trips, single run, machine shared with other work, not pinned).`,
    '',
    markdownTable(
      [
        'pods',
        'single value per change = per heartbeat, KB',
        'writable (<= 1 MiB)',
        'shards',
        'sharded per change, mean / max KB',
        'shards written per change, max',
        'sharded per heartbeat, mean KB',
        'shards written by heartbeats',
        `to ${PROXIES} proxies per heartbeat, single / sharded MB`,
        'publish p50 ms',
      ],
      rows.map((r) => [
        r.pods.toLocaleString('en-US'),
        kb(r.singleValueBytes),
        r.singleValueWritable ? 'yes' : 'no',
        r.shards,
        `${kb(r.sharded.perChange.meanBytes)} / ${kb(r.sharded.perChange.maxBytes)}`,
        r.sharded.perChange.shardsWrittenMax,
        kb(r.sharded.perHeartbeat.meanBytes),
        r.sharded.perHeartbeat.shardsWritten,
        `${fmt((r.singleValueBytes * PROXIES) / 1e6, 1)} / ${fmt((r.sharded.perHeartbeat.meanBytes * PROXIES) / 1e6, 2)}`,
        fmt(r.sharded.perChange.publishMsP50, 1),
      ]),
    ),
    '',
    'The first publication of a term writes every shard (the whole membership once, in values of a few tens of KB each); after that a change writes one shard and the manifest, a heartbeat the manifest only.',
    '',
  ].join('\n');
  process.stdout.write(md);
  const files = await writeResults(
    ctx.name,
    { machine, command: ctx.command, changes, heartbeats, proxies: PROXIES, rows },
    md,
  );
  ctx.log(`wrote ${files.join(', ')}`);
}
