// The proxy's snapshot apply at fleet scale: RouterState (the proxy's own code) takes 10,000-pod
// snapshots while an HTTP server on the same event loop answers requests that look their pod up on the
// ring, under constant load. The load generator and discovery (which builds and encodes the snapshots)
// are peer processes (ring-updates-peer.ts), so this process holds only what a proxy holds. Measures the full first apply, one-pod changes, and the
// event-loop delay (monitorEventLoopDelay) and request latency while snapshots churn. Then the whole
// path of a one-pod change in a real proxy: the sharded manifest through the NATS source's assembler
// (an in-memory bucket in place of NATS), RouterState, and what the proxy does with the new table
// (pod registry, pod-metrics scraper, prefix indexes, metrics).
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { fbiHash, parseStoredValue, type Snapshot } from '@pdrouter/core';
import { ShardedSnapshotReader } from '@pdrouter/nats-snapshots';
import { runCommand } from '@pdrouter/testkit';
import { buildConfig } from '../../../apps/proxy/src/config.ts';
import { parseFlags } from '../../../apps/proxy/src/flags.ts';
import * as natsSourceModule from '../../../apps/proxy/src/nats-source.ts';
import { createProxy } from '../../../apps/proxy/src/proxy.ts';
import { RouterState } from '../../../apps/proxy/src/router-state.ts';
import type { SnapshotSource } from '../../../apps/proxy/src/snapshot-source.ts';
import { type GcSeen, GcWatch } from '../harness/gc.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import { percentile } from '../loadgen/stats.ts';
import type { ScenarioContext } from './context.ts';
import {
  type Change,
  LOAD_CONCURRENCY,
  type LoadResult,
  type PeerRequest,
  type ShardedPut,
  type Stats,
  stats,
} from './ring-updates-peer.ts';

const DEFAULT_PODS = 10_000;
const VNODES = 160;
const ONE_POD_CHANGES = 60;
const QUICK_ONE_POD_CHANGES = 20;
const CHURN_MS = 10_000;
const QUICK_CHURN_MS = 3_000;
/** A one-pod change every this often during the churn; every 20th change is a heartbeat, one is a mass change. */
const CHURN_INTERVAL_MS = 50;
/** One-pod changes reported apart at the start: V8 optimises the merge code during the first few. */
const WARM_AFTER = 5;
/** Share of pods replaced at once by the churn's one mass change (a rolling restart): a full ring build. */
const MASS_CHANGE_SHARE = 0.3;
/** The churn's mass change comes after this many snapshots (or not at all in a shorter run). */
const MASS_CHANGE_AT = 40;
/** With --pin: the router's process (all its threads) on this core, the peers' on the other. */
const ROUTER_CORE = 1;
const PEER_CORE = 0;
const PEER_PROGRAM = fileURLToPath(new URL('./ring-updates-peer.ts', import.meta.url));
/** Deadline of one answer of a peer (a 10,000-pod snapshot takes some 20 ms to build). */
const PEER_TIMEOUT_MS = 30_000;

/** One of the router's peers (ring-updates-peer.ts) in its own process, asked over IPC. */
class Peer {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  readonly role: string;
  private readonly child: ChildProcess;

  private constructor(role: string, child: ChildProcess) {
    this.role = role;
    this.child = child;
    child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`${role} peer: ${m.error}`));
      else p.resolve(m.result);
    });
    child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`${role} peer exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  static async start(role: string, pods: number, pin: boolean): Promise<Peer> {
    const node = [process.execPath, PEER_PROGRAM, String(pods)];
    const [command, ...args] = pin ? ['taskset', '-c', String(PEER_CORE), ...node] : node;
    const child = spawn(command as string, args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return new Peer(role, child);
  }

  ask<T>(request: PeerRequest): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.role} peer: no answer to ${request.op} in ${PEER_TIMEOUT_MS} ms`));
      }, PEER_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, ...request });
    });
  }

  close(): void {
    this.child.disconnect();
  }
}

/** The next snapshot off the wire: its JSON text from discovery's process, parsed here (timed apart). */
async function nextSnapshot(discovery: Peer, change: Change): Promise<{ snapshot: unknown; jsonParseMs: number }> {
  const text = await discovery.ask<string>({ op: 'snapshot', change });
  const start = performance.now();
  const snapshot: unknown = JSON.parse(text);
  return { snapshot, jsonParseMs: performance.now() - start };
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

/** Pins every thread of this process (the event loop, V8's GC and libuv's pools) to one core. */
async function pinSelf(core: number): Promise<void> {
  const r = await runCommand('taskset', ['-a', '-p', '-c', String(core), String(process.pid)]);
  if (r.code !== 0) throw new Error(`taskset -a -p -c ${core} ${process.pid} failed: ${r.stderr.trim()}`);
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
export async function openProxyPath(
  discovery: Peer,
): Promise<{ apply: (change: Change) => Promise<number>; state: RouterState; close: () => Promise<void> }> {
  const store = new Map<string, string>();
  const kv = {
    async get(key: string) {
      const v = store.get(key);
      return v === undefined ? null : { operation: 'PUT', revision: 1, string: () => v };
    },
  } as unknown as Parameters<ShardedSnapshotReader['resolve']>[0];
  let seq = 0;
  /** Discovery's next put: its new shards go into the bucket, its manifest is what the watch delivers. */
  const produce = async (change: Change): Promise<string> => {
    const put = await discovery.ask<ShardedPut>({ op: 'sharded', change });
    for (const [key, raw] of put.shards) store.set(key, raw);
    seq = put.seq;
    return put.manifest;
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
  const once = async (change: Change): Promise<number> => {
    const raw = await produce(change);
    const start = performance.now();
    const done = new Promise<void>((resolve) => {
      handed = resolve;
    });
    onValue(raw);
    await done;
    // The table in use and the proxy's handling of it (the registries' update, in slices when large).
    await proxy.settled();
    const ms = performance.now() - start;
    if (proxy.state.table?.snapshot.seq !== seq) fail(`seq ${seq} not applied`);
    return ms;
  };
  return { apply: once, state: proxy.state, close: () => proxy.close() };
}

/**
 * Snapshots for `durationMs`, one every CHURN_INTERVAL_MS: one-pod changes, every 20th a heartbeat
 * (no change), the MASS_CHANGE_AT-th a mass change. `apply` takes a change and returns its apply time.
 */
async function churn(
  durationMs: number,
  apply: (change: Change) => Promise<number>,
): Promise<{ applyMs: number[]; massChangeMs: number }> {
  const applyMs: number[] = [];
  let massChangeMs = 0;
  const start = performance.now();
  for (let k = 0; performance.now() - start < durationMs; k++) {
    const mass = k === MASS_CHANGE_AT;
    const change: Change = mass
      ? { kind: 'replace', share: MASS_CHANGE_SHARE }
      : k % 20 !== 19
        ? { kind: 'flip', k }
        : { kind: 'none' };
    const ms = await apply(change);
    if (mass) massChangeMs = ms;
    else applyMs.push(ms);
    await new Promise((r) => setTimeout(r, CHURN_INTERVAL_MS));
  }
  return { applyMs, massChangeMs };
}

interface LoopDelay {
  p99: number;
  max: number;
  longestTimerGapMs: number;
  gc: GcSeen;
}

const statsCell = (s: Stats) => `${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)}`;
const loopCell = (l: LoopDelay) => `${fmt(l.p99)} / ${fmt(l.max)}`;
const gcCell = (gc: GcSeen) => `${gc.collections}, ${fmt(gc.longestPauseMs)} (${gc.longestKind || 'none'})`;

/** The rows of one churn under load. */
function churnRows(
  durationMs: number,
  churned: { changes: number; applyMs: Stats; massChange: { applyMs: number } },
  loop: LoopDelay,
  load: LoadResult,
): string[][] {
  return [
    [
      `churn ${durationMs / 1000} s under load: apply p50 / p99 ms (${churned.changes} snapshots)`,
      `${fmt(churned.applyMs.p50)} / ${fmt(churned.applyMs.p99)}`,
      '',
    ],
    [
      `churn: mass change (${MASS_CHANGE_SHARE * 100} % of pods replaced) applied, ms`,
      fmt(churned.massChange.applyMs, 0),
      '',
    ],
    [
      'churn: event-loop delay p99 / max ms (longest 5 ms timer gap)',
      `${loopCell(loop)} (${fmt(loop.longestTimerGapMs)})`,
      '<= 10',
    ],
    ['churn: garbage collections, longest pause ms (its kind)', gcCell(loop.gc), ''],
    [
      'churn: requests, failed, latency p99 / max ms',
      `${load.requests}, ${load.failed}, ${fmt(load.latencyMs.p99)} / ${fmt(load.latencyMs.max)}`,
      '0 failed',
    ],
  ];
}

export async function runRingUpdatesScenario(ctx: ScenarioContext): Promise<void> {
  const pods = ctx.int('pods') ?? DEFAULT_PODS;
  const pin = ctx.bool('pin');
  if (pin) await pinSelf(ROUTER_CORE);
  const [loadPeer, discovery] = await Promise.all([Peer.start('load', pods, pin), Peer.start('discovery', pods, pin)]);
  try {
    await measureAll(ctx, pods, pin, loadPeer, discovery);
  } finally {
    loadPeer.close();
    discovery.close();
  }
}

async function measureAll(
  ctx: ScenarioContext,
  pods: number,
  pin: boolean,
  loadPeer: Peer,
  discovery: Peer,
): Promise<void> {
  const state = new RouterState({ vnodes: VNODES });
  const server = await startRoutingServer(state);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const probe = new StallProbe();
  const gc = new GcWatch();
  let gcSeen: GcSeen = { collections: 0, longestPauseMs: 0, longestKind: '' };
  const loopMs = () => ({
    p99: Math.round(histogram.percentile(99) / 1e4) / 100,
    max: Math.round(histogram.max / 1e4) / 100,
    longestTimerGapMs: Math.round(probe.longestGapMs * 100) / 100,
    gc: gcSeen,
  });
  const measureLoop = async <T>(fn: () => Promise<T>): Promise<T> => {
    histogram.reset();
    probe.start();
    gc.start();
    histogram.enable();
    try {
      return await fn();
    } finally {
      // One more turn of the loop, so a stall that lasted to the end is recorded too.
      await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS * 2));
      histogram.disable();
      probe.stop();
      gcSeen = gc.stop();
    }
  };
  const startLoad = async () => {
    await loadPeer.ask({ op: 'load-start', url });
    return { stop: () => loadPeer.ask<LoadResult>({ op: 'load-stop' }) };
  };

  // 1. The first snapshot, under load (requests get 503 until it is in).
  ctx.log(`full apply of ${pods} pods x ${VNODES} vnodes`);
  const first = await nextSnapshot(discovery, { kind: 'none' });
  let load = await startLoad();
  const fullMs = await measureLoop(() => applyTimed(state, first.snapshot));
  const fullLoop = loopMs();
  const fullLoad = await load.stop();

  // 2. One-pod changes, one at a time, nothing else running.
  const changes = ctx.int('changes') ?? (ctx.quick ? QUICK_ONE_POD_CHANGES : ONE_POD_CHANGES);
  const changeMs: number[] = [];
  const parseMs: number[] = [];
  for (let k = 0; k < changes; k++) {
    const s = await nextSnapshot(discovery, { kind: 'flip', k });
    parseMs.push(s.jsonParseMs);
    changeMs.push(await applyTimed(state, s.snapshot));
  }
  ctx.log(`one-pod change p50 ${fmt(percentile(changeMs, 50))} ms`);

  // 3. Churn under load: one-pod changes, heartbeats and one mass change while requests flow.
  const churnMs = ctx.int('churn-ms') ?? (ctx.quick ? QUICK_CHURN_MS : CHURN_MS);
  load = await startLoad();
  const churned = await measureLoop(() =>
    churn(churnMs, async (change) => applyTimed(state, (await nextSnapshot(discovery, change)).snapshot)),
  );
  const churnLoop = loopMs();
  const churnLoad = await load.stop();
  server.close();
  await state.close();

  // 4. The whole path in a proxy: the first snapshot and one-pod changes (nothing else running), then
  // the churn again under load, with requests routed on the proxy's table.
  ctx.log('one-pod changes through the NATS source and the proxy');
  const path = await openProxyPath(discovery);
  const pathFirstMs = await path.apply({ kind: 'none' });
  const pathChangeMs: number[] = [];
  for (let k = 0; k < changes; k++) pathChangeMs.push(await path.apply({ kind: 'flip', k }));
  const pathServer = await startRoutingServer(path.state);
  const pathUrl = `http://127.0.0.1:${(pathServer.address() as AddressInfo).port}`;
  await loadPeer.ask({ op: 'load-start', url: pathUrl });
  const pathChurned = await measureLoop(() => churn(churnMs, path.apply));
  const pathChurnLoop = loopMs();
  const pathChurnLoad = await loadPeer.ask<LoadResult>({ op: 'load-stop' });
  pathServer.close();
  await path.close();

  const machine = machineInfo();
  const pinning = pin
    ? `Pinned with taskset: the router's process, all its threads (the event loop, the ring-build worker, V8's garbage collection helpers), to core ${ROUTER_CORE}; the two peers to core ${PEER_CORE}. The router's own threads then share one core.`
    : 'Nothing pinned: the three processes share the 2 cores (and the machine is shared with other work).';
  const result = {
    scenario: ctx.name,
    command: ctx.command,
    machine,
    pinning,
    pods,
    vnodes: VNODES,
    points: pods * VNODES,
    full: { applyMs: Math.round(fullMs), eventLoopDelayMs: fullLoop, load: fullLoad },
    onePodChange: {
      applyMs: stats(changeMs),
      applyAfterFirstMs: stats(changeMs.slice(WARM_AFTER)),
      wireJsonParseMs: stats(parseMs),
    },
    churn: {
      durationMs: churnMs,
      changes: churned.applyMs.length + 1,
      applyMs: stats(churned.applyMs),
      massChange: { share: MASS_CHANGE_SHARE, applyMs: Math.round(churned.massChangeMs) },
      eventLoopDelayMs: churnLoop,
      load: churnLoad,
    },
    proxyPath: {
      flags: PROXY_PATH_FLAGS,
      firstApplyMs: Math.round(pathFirstMs),
      onePodChangeMs: stats(pathChangeMs),
      onePodChangeAfterFirstMs: stats(pathChangeMs.slice(WARM_AFTER)),
      churn: {
        changes: pathChurned.applyMs.length + 1,
        applyMs: stats(pathChurned.applyMs),
        massChange: { share: MASS_CHANGE_SHARE, applyMs: Math.round(pathChurned.massChangeMs) },
        eventLoopDelayMs: pathChurnLoop,
        load: pathChurnLoad,
      },
    },
  };
  const md = [
    `# Ring updates: ${pods} pods x ${VNODES} vnodes in the proxy's RouterState`,
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `The router's process: RouterState applies snapshots while an HTTP server on the same event loop answers ${LOAD_CONCURRENCY} concurrent clients whose requests look their pod up on the ring. The clients (undici) and discovery (which builds each snapshot and encodes it as the wire carries it) are two other processes (\`ring-updates-peer.ts\`), so their CPU and garbage are not the router's. Snapshots reach the router as JSON text over IPC and are parsed there into fresh objects (the parse is timed apart). ${pinning}`,
    '',
    markdownTable(
      ['measure', 'result', 'target'],
      [
        ['**RouterState**, full apply (first snapshot), ms', fmt(fullMs, 0), '<= 1000'],
        ['event-loop delay during the full apply, p99 / max ms', loopCell(fullLoop), '<= 10'],
        [
          `one-pod change applied, p50 / p99 / max ms (${changes} changes)`,
          statsCell(result.onePodChange.applyMs),
          '<= 5',
        ],
        [
          `the same after the first ${WARM_AFTER} (V8 has optimised the merge code)`,
          statsCell(result.onePodChange.applyAfterFirstMs),
          '<= 5',
        ],
        [
          'JSON.parse of one snapshot off the wire, p50 ms (not part of apply)',
          fmt(result.onePodChange.wireJsonParseMs.p50),
          '',
        ],
        ...churnRows(churnMs, result.churn, churnLoop, churnLoad),
        ['garbage collections during the full apply: count, longest pause ms (its kind)', gcCell(fullLoop.gc), ''],
        ['**Whole path in a proxy**, first snapshot (manifest to tables in use), ms', fmt(pathFirstMs, 0), '<= 1000'],
        [`one-pod change, p50 / p99 / max ms (${changes} changes)`, statsCell(result.proxyPath.onePodChangeMs), '<= 5'],
        [`the same after the first ${WARM_AFTER}`, statsCell(result.proxyPath.onePodChangeAfterFirstMs), '<= 5'],
        ...churnRows(churnMs, result.proxyPath.churn, pathChurnLoop, pathChurnLoad),
      ],
    ),
    '',
    `The whole-path rows run a proxy (createProxy, flags \`${PROXY_PATH_FLAGS.join(' ')}\`) fed by the NATS source's manifest assembler over an in-memory bucket: each snapshot sharded as discovery shards it (not timed), then timed from the manifest to the end of the proxy's handling of the new table (assembly and validation, RouterState, pod registry, pod-metrics scraper, prefix indexes, metrics). Its churn is the same sequence of snapshots as RouterState's, with the load's requests routed on the proxy's table. Only the changed shards are new, so a one-pod change parses one shard's members where RouterState alone parses the whole snapshot's JSON text.`,
    '',
  ].join('\n');
  process.stdout.write(md);
  const files = await writeResults(pin ? `${ctx.name}-pinned` : ctx.name, result, md);
  ctx.log(`wrote ${files.join(', ')}`);
}
