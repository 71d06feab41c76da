// The proxy's snapshot apply at fleet scale, in one process: RouterState (the proxy's own code) takes
// 10,000-pod snapshots while an HTTP server on the same event loop answers requests that look their
// pod up on the ring, under constant load. Measures the full first apply, one-pod changes, and the
// event-loop delay (monitorEventLoopDelay) and request latency while snapshots churn. Then the whole
// path of a one-pod change in a real proxy: the sharded manifest through the NATS source's assembler
// (an in-memory bucket in place of NATS), RouterState, and what the proxy does with the new table
// (pod registry, pod-metrics scraper, prefix indexes, metrics).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { encodeManifest, fbiHash, type Member, parseStoredValue, type Snapshot, shardSnapshot } from '@pdrouter/core';
import { ShardedSnapshotReader, shardKey } from '@pdrouter/nats-snapshots';
import { Pool } from 'undici';
import { buildConfig } from '../../../apps/proxy/src/config.ts';
import { parseFlags } from '../../../apps/proxy/src/flags.ts';
import * as natsSourceModule from '../../../apps/proxy/src/nats-source.ts';
import { createProxy } from '../../../apps/proxy/src/proxy.ts';
import { RouterState } from '../../../apps/proxy/src/router-state.ts';
import type { SnapshotSource } from '../../../apps/proxy/src/snapshot-source.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import { percentile } from '../loadgen/stats.ts';
import type { ScenarioContext } from './context.ts';

const DEFAULT_PODS = 10_000;
const VNODES = 160;
const ONE_POD_CHANGES = 60;
const QUICK_ONE_POD_CHANGES = 20;
const CHURN_MS = 10_000;
const QUICK_CHURN_MS = 3_000;
/** A one-pod change every this often during the churn; every 20th change is a heartbeat, one is a mass change. */
const CHURN_INTERVAL_MS = 50;
/** Share of pods replaced at once by the churn's one mass change (a rolling restart): a full ring build. */
const MASS_CHANGE_SHARE = 0.3;
/** The churn's mass change comes after this many snapshots (or not at all in a shorter run). */
const MASS_CHANGE_AT = 40;
const LOAD_CONCURRENCY = 16;
/** Deadline of one request of the load: a stalled loop shows up as latency, a dead one as failures. */
const REQUEST_TIMEOUT_MS = 10_000;

interface Stats {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

function stats(values: readonly number[]): Stats {
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    n: values.length,
    p50: round(percentile(values, 50)),
    p99: round(percentile(values, 99)),
    // A fold, not Math.max(...values): an idle machine serves more requests than the stack holds arguments.
    max: round(values.reduce((m, v) => Math.max(m, v), Number.NEGATIVE_INFINITY)),
  };
}

function podMember(i: number): Member {
  // Distinct URLs for 10,000+ pods, as pod IPs in a /16 would be.
  return {
    name: `decode-${i}`,
    uid: `uid-${i}`,
    url: `http://10.${(i >> 8) & 255}.${i & 255}.${i >> 16}:8200`,
    ready: true,
  };
}

class SnapshotStream {
  private seq = 0;
  readonly ids: Set<number>;
  private nextId: number;

  constructor(pods: number) {
    this.ids = new Set(Array.from({ length: pods }, (_, i) => i));
    this.nextId = pods;
  }

  /** The current membership as it arrives from the wire: fresh objects from JSON text, names sorted. */
  next(): { snapshot: unknown; jsonParseMs: number } {
    this.seq++;
    const snapshot: Snapshot = {
      pool: 'default',
      epoch: 1,
      seq: this.seq,
      time: new Date().toISOString(),
      members: {
        prefill: [],
        decode: [...this.ids].map(podMember).sort((a, b) => (a.name < b.name ? -1 : 1)),
        plain: [],
      },
    };
    const text = JSON.stringify(snapshot);
    const start = performance.now();
    const parsed = JSON.parse(text);
    return { snapshot: parsed, jsonParseMs: performance.now() - start };
  }

  /** One pod leaves (the lowest id) or a new one joins, alternately. */
  flip(k: number): void {
    if (k % 2 === 0) this.ids.delete(this.ids.values().next().value as number);
    else this.ids.add(this.nextId++);
  }

  replace(share: number): void {
    const count = Math.floor(this.ids.size * share);
    const gone = [...this.ids].slice(0, count);
    for (const id of gone) this.ids.delete(id);
    for (let i = 0; i < count; i++) this.ids.add(this.nextId++);
  }
}

/** A request handler doing the proxy's routing step: hash the key, look the owner up in the table in use. */
function startRoutingServer(state: RouterState): Promise<Server> {
  const server = createServer((req, res) => {
    const table = state.table;
    const owner = table?.rings.decode.ownerOfHash(fbiHash(req.url ?? '/'));
    res.writeHead(owner ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(owner ?? 'no table');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

interface LoadResult {
  requests: number;
  failed: number;
  latencyMs: Stats;
}

/** LOAD_CONCURRENCY clients, each sending one request after the other until `stop()`. */
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

const PROBE_INTERVAL_MS = 5;

/** The longest gap between two ticks of a 5 ms timer, minus the interval: a stall, however the histogram samples. */
class StallProbe {
  longestGapMs = 0;
  private timer: NodeJS.Timeout | undefined;

  start(): void {
    this.longestGapMs = 0;
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.longestGapMs = Math.max(this.longestGapMs, now - last - PROBE_INTERVAL_MS);
      last = now;
    }, PROBE_INTERVAL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

async function applyTimed(state: RouterState, snapshot: unknown): Promise<number> {
  const start = performance.now();
  const r = await state.apply(snapshot);
  if (!r.ok) throw new Error(`snapshot refused: ${r.error}`);
  return performance.now() - start;
}

/** The proxy's flags for the whole-path measure: P/D, scoring policies (prefix indexes, pod gauges). */
export const PROXY_PATH_FLAGS = [
  '--pd-disaggregation',
  '--snapshot-file',
  '/unused',
  '--prefill-policy',
  'cache_aware',
  '--decode-policy',
  'cache_aware',
  // Pods that do not exist: no probe round and (almost) no gauge read falls within the run.
  '--health-check-interval-secs',
  '86400',
  '--pod-metrics-interval-ms',
  '86400000',
  '--pod-metrics-stale-ms',
  '86400000',
];

/**
 * One-pod changes through a real proxy (createProxy): each snapshot is sharded as discovery shards it,
 * its shards stored in an in-memory bucket, and its manifest handed to the NATS source's assembler,
 * whose snapshot goes to the proxy's own apply; timed from the manifest to the end of the proxy's
 * handling of the new table. The encoding (discovery's work) is not timed.
 */
export async function proxyPathChanges(
  pods: number,
  changes: number,
): Promise<{ firstMs: number; changeMs: number[] }> {
  const members = new Map<number, Member>();
  const member = (i: number): Member => {
    let m = members.get(i);
    if (m === undefined) {
      m = { ...podMember(i), name: `decode-${String(i).padStart(6, '0')}` };
      members.set(i, m);
    }
    return m;
  };
  const ids = new Set(Array.from({ length: pods }, (_, i) => i));
  let nextId = pods;
  let seq = 0;
  let shardCount: number | undefined;
  const store = new Map<string, string>();
  const kv = {
    async get(key: string) {
      const v = store.get(key);
      return v === undefined ? null : { operation: 'PUT', revision: 1, string: () => v };
    },
  } as unknown as Parameters<ShardedSnapshotReader['resolve']>[0];
  const produce = (): string => {
    seq++;
    const sharded = shardSnapshot(
      {
        pool: 'default',
        epoch: 1,
        seq,
        time: new Date().toISOString(),
        members: { prefill: [], decode: [...ids].map(member), plain: [] },
      },
      shardCount,
    );
    shardCount = sharded.manifest.shards.length;
    for (const shard of sharded.shards) store.set(shardKey('default', shard.digest), shard.raw);
    return encodeManifest(sharded.manifest);
  };
  let sourceApply: (s: Snapshot) => void = () => {};
  const source: SnapshotSource = {
    description: 'bench',
    async start(apply) {
      sourceApply = apply;
    },
    async close() {},
  };
  const proxy = await createProxy(buildConfig(parseFlags(PROXY_PATH_FLAGS)), { source, defaultMetrics: false });
  await proxy.start();
  let handed: () => void = () => {};
  const fail = (reason: string): never => {
    throw new Error(`proxy path: ${reason}`);
  };
  // The NATS source's value handler where this tree exports it; else what it does, step by step.
  const assembler = (natsSourceModule as { manifestAssembler?: typeof natsSourceModule.manifestAssembler })
    .manifestAssembler;
  let onValue: (raw: string) => void;
  if (assembler !== undefined) {
    onValue = assembler(kv, 'default', {
      apply: (s) => {
        sourceApply(s);
        handed();
      },
      reject: fail,
      report: fail,
      isClosed: () => false,
      setRetry: () => {},
    });
  } else {
    const reader = new ShardedSnapshotReader('default');
    let lastGood: Snapshot | undefined;
    onValue = (raw) => {
      const value = parseStoredValue(raw);
      if (value.kind !== 'manifest') fail(value.kind);
      else
        void reader.resolve(kv, value.manifest, lastGood).then((r) => {
          if (!r.ok) fail(r.error);
          else {
            lastGood = r.snapshot;
            sourceApply(r.snapshot);
            handed();
          }
        });
    };
  }
  const once = async (): Promise<number> => {
    const raw = produce();
    const start = performance.now();
    const done = new Promise<void>((resolve) => {
      handed = resolve;
    });
    onValue(raw);
    await done;
    await proxy.state.settled();
    // The proxy's handling of the table runs in the reaction after the apply's.
    await Promise.resolve();
    const ms = performance.now() - start;
    if (proxy.state.table?.snapshot.seq !== seq) fail(`seq ${seq} not applied`);
    return ms;
  };
  const firstMs = await once();
  const changeMs: number[] = [];
  for (let k = 0; k < changes; k++) {
    if (k % 2 === 0) ids.delete(ids.values().next().value as number);
    else ids.add(nextId++);
    changeMs.push(await once());
  }
  await proxy.close();
  return { firstMs, changeMs };
}

export async function runRingUpdatesScenario(ctx: ScenarioContext): Promise<void> {
  const pods = ctx.int('pods') ?? DEFAULT_PODS;
  const stream = new SnapshotStream(pods);
  const state = new RouterState({ vnodes: VNODES });
  const server = await startRoutingServer(state);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const probe = new StallProbe();
  const loopMs = () => ({
    p99: Math.round(histogram.percentile(99) / 1e4) / 100,
    max: Math.round(histogram.max / 1e4) / 100,
    longestTimerGapMs: Math.round(probe.longestGapMs * 100) / 100,
  });
  const measureLoop = async <T>(fn: () => Promise<T>): Promise<T> => {
    histogram.reset();
    probe.start();
    histogram.enable();
    try {
      return await fn();
    } finally {
      // One more turn of the loop, so a stall that lasted to the end is recorded too.
      await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS * 2));
      histogram.disable();
      probe.stop();
    }
  };

  // 1. The first snapshot, under load (requests get 503 until it is in).
  ctx.log(`full apply of ${pods} pods x ${VNODES} vnodes`);
  let load = startLoad(url);
  const first = stream.next();
  const fullMs = await measureLoop(() => applyTimed(state, first.snapshot));
  const fullLoop = loopMs();
  const fullLoad = await load.stop();

  // 2. One-pod changes, one at a time, nothing else running.
  const changes = ctx.int('changes') ?? (ctx.quick ? QUICK_ONE_POD_CHANGES : ONE_POD_CHANGES);
  const changeMs: number[] = [];
  const parseMs: number[] = [];
  for (let k = 0; k < changes; k++) {
    stream.flip(k);
    const s = stream.next();
    parseMs.push(s.jsonParseMs);
    changeMs.push(await applyTimed(state, s.snapshot));
  }
  ctx.log(`one-pod change p50 ${fmt(percentile(changeMs, 50))} ms`);

  // 3. Churn under load: one-pod changes, heartbeats and one mass change while requests flow.
  const churnMs = ctx.int('churn-ms') ?? (ctx.quick ? QUICK_CHURN_MS : CHURN_MS);
  const churnApplyMs: number[] = [];
  let massChangeMs = 0;
  load = startLoad(url);
  await measureLoop(async () => {
    const churnStart = performance.now();
    for (let k = 0; performance.now() - churnStart < churnMs; k++) {
      const mass = k === MASS_CHANGE_AT;
      if (mass) stream.replace(MASS_CHANGE_SHARE);
      else if (k % 20 !== 19) stream.flip(k);
      const s = stream.next();
      const ms = await applyTimed(state, s.snapshot);
      if (mass) massChangeMs = ms;
      else churnApplyMs.push(ms);
      await new Promise((r) => setTimeout(r, CHURN_INTERVAL_MS));
    }
  });
  const churnLoop = loopMs();
  const churnLoad = await load.stop();
  server.close();
  await (state as { close?: () => Promise<void> }).close?.();

  // 4. The whole path of a one-pod change in a proxy (nothing else running).
  ctx.log('one-pod changes through the NATS source and the proxy');
  const proxyPath = await proxyPathChanges(pods, changes);

  const machine = machineInfo();
  const result = {
    scenario: ctx.name,
    command: ctx.command,
    machine,
    pods,
    vnodes: VNODES,
    points: pods * VNODES,
    full: { applyMs: Math.round(fullMs), eventLoopDelayMs: fullLoop, load: fullLoad },
    onePodChange: { applyMs: stats(changeMs), wireJsonParseMs: stats(parseMs) },
    churn: {
      durationMs: churnMs,
      changes: churnApplyMs.length + 1,
      applyMs: stats(churnApplyMs),
      massChange: { share: MASS_CHANGE_SHARE, applyMs: Math.round(massChangeMs) },
      eventLoopDelayMs: churnLoop,
      load: churnLoad,
    },
    proxyPath: {
      flags: PROXY_PATH_FLAGS,
      firstApplyMs: Math.round(proxyPath.firstMs),
      onePodChangeMs: stats(proxyPath.changeMs),
    },
  };
  const md = [
    `# Ring updates: ${pods} pods x ${VNODES} vnodes in the proxy's RouterState`,
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `One process: RouterState applies snapshots while an HTTP server on the same event loop answers ${LOAD_CONCURRENCY} concurrent clients whose requests look their pod up on the ring. Snapshots are fresh objects parsed from JSON text, as they come off the wire (the parse itself is timed apart).`,
    '',
    markdownTable(
      ['measure', 'result', 'target'],
      [
        ['full apply (first snapshot), ms', fmt(fullMs, 0), '<= 1000'],
        [
          'event-loop delay during the full apply, p99 / max ms',
          `${fmt(fullLoop.p99)} / ${fmt(fullLoop.max)}`,
          '<= 10',
        ],
        [
          `one-pod change applied, p50 / p99 / max ms (${changes} changes)`,
          `${fmt(result.onePodChange.applyMs.p50)} / ${fmt(result.onePodChange.applyMs.p99)} / ${fmt(result.onePodChange.applyMs.max)}`,
          '<= 5',
        ],
        [
          'JSON.parse of one snapshot off the wire, p50 ms (not part of apply)',
          fmt(result.onePodChange.wireJsonParseMs.p50),
          '',
        ],
        [
          `churn ${churnMs / 1000} s: apply p50 / p99 ms (${result.churn.changes} snapshots)`,
          `${fmt(result.churn.applyMs.p50)} / ${fmt(result.churn.applyMs.p99)}`,
          '',
        ],
        [`churn: mass change (${MASS_CHANGE_SHARE * 100} % of pods replaced) applied, ms`, fmt(massChangeMs, 0), ''],
        [
          'churn: event-loop delay p99 / max ms (longest 5 ms timer gap)',
          `${fmt(churnLoop.p99)} / ${fmt(churnLoop.max)} (${fmt(churnLoop.longestTimerGapMs)})`,
          '<= 10',
        ],
        [
          'churn: requests, failed, latency p99 / max ms',
          `${churnLoad.requests}, ${churnLoad.failed}, ${fmt(churnLoad.latencyMs.p99)} / ${fmt(churnLoad.latencyMs.max)}`,
          '0 failed',
        ],
        [`whole path in a proxy: first snapshot (manifest to tables in use), ms`, fmt(proxyPath.firstMs, 0), '<= 1000'],
        [
          `whole path in a proxy: one-pod change, p50 / p99 / max ms (${changes} changes)`,
          `${fmt(result.proxyPath.onePodChangeMs.p50)} / ${fmt(result.proxyPath.onePodChangeMs.p99)} / ${fmt(result.proxyPath.onePodChangeMs.max)}`,
          '<= 5',
        ],
      ],
    ),
    '',
    `The whole-path rows run a proxy (createProxy, flags \`${PROXY_PATH_FLAGS.join(' ')}\`) fed by the NATS source's manifest assembler over an in-memory bucket: each snapshot sharded as discovery shards it (not timed), then timed from the manifest to the end of the proxy's handling of the new table (assembly and validation, RouterState, pod registry, pod-metrics scraper, prefix indexes, metrics).`,
    '',
  ].join('\n');
  process.stdout.write(md);
  const files = await writeResults(ctx.name, result, md);
  ctx.log(`wrote ${files.join(', ')}`);
}
