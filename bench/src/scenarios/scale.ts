// The control plane at fleet scale: nats-server, the Kubernetes API fake, one discovery and 3 proxies (the local
// cluster of @pdrouter/discovery) with pools of 1,000 to 10,000 pods, churned one change at a time (the
// convergence scenarios' change plan and harness, pod-changes.ts) under streamed load through every proxy.
// Per pool size: bytes the discovery leader wrote to NATS per change and per heartbeat (nats-server's /connz),
// convergence to all proxies, the proxies' event-loop delay (pdrouter_event_loop_delay_seconds and Node's
// nodejs_eventloop_lag_*), failed requests and each proxy's memory.
import { loadavg } from 'node:os';
import { UsageError } from '@pdrouter/cli';
import { type LocalCluster, type ProxyReplica, startLocalCluster } from '@pdrouter/discovery/local-cluster';
import { metricSum, parsePrometheusText, podManifest, StopWaiting, sleep, waitUntil } from '@pdrouter/testkit';
import { freePort } from '../harness/free-port.ts';
import { parseSnapshotApplied, type SnapshotApplied } from '../harness/json-log.ts';
import { startSimFleetProcess } from '../harness/launchers.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { OpenFilesSampler, processMemoryMiB } from '../harness/process-stats.ts';
import {
  fetchMetricsText,
  type Histogram,
  histogramDelta,
  histogramQuantile,
  parseHistogram,
} from '../harness/prometheus.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import { SteadyLoad, type SteadyLoadResult } from '../harness/steady-load.ts';
import type { ScenarioContext } from './context.ts';
import { onRings } from './convergence.ts';
import { type ChangeKind, DEFAULT_DEBOUNCE_MS, planChanges } from './convergence-plan.ts';
import {
  CONVERGENCE_TIMEOUT_MS,
  type Distribution,
  distribution,
  LOAD_MAX_TOKENS,
  MODEL,
  runChangePlan,
} from './pod-changes.ts';
import { DEFAULT_SIZES, MAX_PODS, QUICK_SIZES, type ScalePod, SPARE_PODS_PER_ROLE, scalePods } from './scale-plan.ts';

/** Real vllm-sim pods per role; every registered pod of the role is served by one of them. */
const REAL_PODS_PER_ROLE = 4;
/**
 * One vllm-sim process per real prefill+decode pair: the local cluster's and REAL_PODS_PER_ROLE - 1 more. Each
 * proxy keeps a pooled connection to every registered pod it probed or routed to (its health check probes every
 * member), so the real pods hold about PROXIES x pods connections: 30,000 at 10,000 pods. In one process that is
 * past a common RLIMIT_NOFILE (20,000 here), where the sim accepts and closes connections at once (the resets of
 * the first 10,000-pod runs); split over 4 processes it is about 7,500 each.
 */
const DEFAULT_SIM_PROCESSES = REAL_PODS_PER_ROLE;
/** How often each sim's and proxy's open file descriptors are sampled for their peak. */
const OPEN_FILES_SAMPLE_MS = 1_000;
const PROXIES = 3;
/** Discovery's production defaults (apps/discovery/src/flags.ts). */
const HEARTBEAT_SECS = 10;
const LEASE_DURATION_SECS = 15;
const DEFAULT_CHANGES = 40;
const QUICK_CHANGES = 8;
const DEFAULT_LOAD_CONCURRENCY = 8;
const DEFAULT_DWELL_MS = 300;
/** Deadline for every proxy to apply the first full snapshot (pods created -> rings). */
const INITIAL_RINGS_TIMEOUT_MS = 120_000;
const INITIAL_POLL_MS = 100;
/** Deadline of one read of nats-server's monitoring endpoint. */
const MONITOR_TIMEOUT_MS = 5_000;
const EVENT_LOOP_HISTOGRAM = 'pdrouter_event_loop_delay_seconds';
const HEALTH_PROBES = 'pdrouter_health_probes_total';
/**
 * Deadline for every proxy to finish a health-check round over the whole pool under load: the first comes one
 * --health-check-interval-secs (60 s by default) after its start, a round at 10,000 pods takes some seconds.
 */
const HEALTH_ROUND_TIMEOUT_MS = 150_000;
const HEALTH_ROUND_POLL_MS = 2_000;
/** Discovery's line when a put of the snapshot failed (the value too large for max_payload, say). */
const PUBLISH_FAILED = 'snapshot publication failed';

interface Sample {
  index: number;
  kind: ChangeKind;
  pod: string;
  /** Change in the API fake -> the last of the proxies' `snapshot applied` line. */
  convergence_ms: number;
  per_proxy_ms: number[];
  /** What the leader wrote to NATS since the previous change converged (this change, and a heartbeat at times). */
  bytes_written: number;
  msgs_written: number;
  /** What NATS delivered to the proxies over the same interval, all proxies together. */
  bytes_delivered: number;
}

/** A process's peak open file descriptors over the size's run, and its soft RLIMIT_NOFILE (null: unlimited). */
interface OpenFiles {
  name: string;
  peak_open: number;
  limit: number | null;
}

interface ProxyReport {
  name: string;
  rss_mib: number;
  peak_rss_mib: number;
  /** pdrouter_event_loop_delay_seconds over the load window: p99 (histogram_quantile) and the bucket of the max. */
  event_loop_delay_ms: { samples: number; p50: number | null; p99: number | null; max_at_most: number | null };
  /** Node's nodejs_eventloop_lag_p99/max_seconds (prom-client, since the previous scrape: the load window). */
  nodejs_eventloop_lag_ms: { p99: number | null; max: number | null };
  /** pdrouter_health_probes_total by result, since the proxy started (its rounds so far, all under load). */
  health_probes: { ok: number; failed: number };
}

interface SizeRun {
  pods: number;
  ok: boolean;
  error?: string;
  machine_load_before: number[];
  /** Discovery started (the pods already in the API) -> the last proxy's first `snapshot applied` with every pod. */
  initial_snapshot_ms?: number;
  changes?: number;
  convergence_ms?: Distribution;
  per_kind_ms?: Record<string, Distribution>;
  bytes_written_per_change?: Distribution;
  msgs_written_per_change?: Distribution;
  bytes_delivered_per_change?: Distribution;
  heartbeat?: {
    window_s: number;
    bytes_written: number;
    msgs_written: number;
    bytes_delivered: number;
    /** A heartbeat is one KV put of the pool's value (or manifest): bytes per message written. */
    bytes_per_heartbeat: number | null;
  };
  load?: {
    requests_ok: number;
    failed_requests: number;
    failures: readonly string[];
    duration_s: number;
    per_proxy: SteadyLoadResult['perUrl'];
  };
  proxies?: ProxyReport[];
  /** Every sim process and proxy: the most file descriptors it had open at once (sampled every second). */
  open_files?: OpenFiles[];
  samples?: Sample[];
}

interface ConnTotals {
  writtenBytes: number;
  writtenMsgs: number;
  deliveredBytes: number;
}

interface Connz {
  connections?: { name?: string; in_bytes?: number; in_msgs?: number; out_bytes?: number }[];
}

/** The leader's writes and the proxies' deliveries so far, from nats-server's /connz. */
async function connTotals(monitorUrl: string, leaderName: string): Promise<ConnTotals> {
  const res = await fetch(`${monitorUrl}/connz?limit=1024`, { signal: AbortSignal.timeout(MONITOR_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`GET ${monitorUrl}/connz: HTTP ${res.status}`);
  const conns = ((await res.json()) as Connz).connections ?? [];
  const leader = conns.filter((c) => c.name === leaderName);
  if (leader.length !== 1) throw new Error(`expected one NATS connection named ${leaderName}, found ${leader.length}`);
  const proxies = conns.filter((c) => c.name?.startsWith('pdrouter-proxy-'));
  return {
    writtenBytes: leader[0]?.in_bytes ?? 0,
    writtenMsgs: leader[0]?.in_msgs ?? 0,
    deliveredBytes: proxies.reduce((sum, c) => sum + (c.out_bytes ?? 0), 0),
  };
}

const ms = (seconds: number | undefined) => (seconds === undefined ? null : Math.round(seconds * 1e5) / 100);

/** The upper bound of the highest bucket that gained observations: the longest delay is at most this. */
function maxBucket(h: Histogram): number | undefined {
  let prev = 0;
  let top: number | undefined;
  for (const [le, count] of h.buckets) {
    if (count > prev) top = le;
    prev = count;
  }
  return top;
}

/** pdrouter_health_probes_total{result} from a proxy's metrics text (the lines of that counter only). */
function healthProbes(text: string): { ok: number; failed: number } {
  const lines = text
    .split('\n')
    .filter((l) => l.startsWith(HEALTH_PROBES))
    .join('\n');
  return {
    ok: metricSum(lines, HEALTH_PROBES, { result: 'ok' }),
    failed: metricSum(lines, HEALTH_PROBES, { result: 'failed' }),
  };
}

function gauge(text: string, name: string): number | undefined {
  return parsePrometheusText(text).find((s) => s.name === name)?.value;
}

async function proxyReport(p: ProxyReplica, before: Histogram): Promise<ProxyReport> {
  const text = await fetchMetricsText(p.metricsUrl);
  const delta = histogramDelta(parseHistogram(text, EVENT_LOOP_HISTOGRAM), before);
  const mem = await processMemoryMiB(p.proc.pid);
  const top = maxBucket(delta);
  return {
    name: p.name,
    rss_mib: Math.round(mem.rssMiB),
    peak_rss_mib: Math.round(mem.peakRssMiB),
    event_loop_delay_ms: {
      samples: delta.count,
      p50: ms(histogramQuantile(0.5, delta)),
      p99: ms(histogramQuantile(0.99, delta)),
      max_at_most: top === undefined ? null : top === Number.POSITIVE_INFINITY ? null : ms(top),
    },
    nodejs_eventloop_lag_ms: {
      p99: ms(gauge(text, 'nodejs_eventloop_lag_p99_seconds')),
      max: ms(gauge(text, 'nodejs_eventloop_lag_max_seconds')),
    },
    health_probes: healthProbes(text),
  };
}

/** The `error` of discovery's failed-publication line, or the line itself. */
function publishError(line: string): string {
  try {
    const error = (JSON.parse(line) as { error?: unknown }).error;
    return typeof error === 'string' ? error : line;
  } catch {
    return line;
  }
}

function register(cluster: LocalCluster, pod: ScalePod): void {
  cluster.api.createPod(podManifest({ name: pod.name, role: pod.role, ip: pod.ip, port: pod.port, ready: true }));
}

/** Every proxy's `snapshot applied` line with these counts; a failed publication by discovery ends the wait. */
async function waitForInitialRings(cluster: LocalCluster, counts: { prefill: number; decode: number }) {
  const discovery = cluster.discoveries[0];
  return waitUntil(
    () => {
      const failed = discovery?.proc.lines.find((l) => l.includes(`"msg":"${PUBLISH_FAILED}`));
      if (failed !== undefined)
        throw new StopWaiting(`discovery could not publish the first snapshot (${publishError(failed)})`);
      const applied = cluster.proxies.map((p) =>
        p.proc.lines
          .map(parseSnapshotApplied)
          .find((s) => s !== undefined && s.prefill === counts.prefill && s.decode === counts.decode),
      );
      return applied.every((a) => a !== undefined) ? (applied as SnapshotApplied[]) : undefined;
    },
    { timeoutMs: INITIAL_RINGS_TIMEOUT_MS, intervalMs: INITIAL_POLL_MS, description: 'every proxy on the first rings' },
  );
}

interface RunSettings {
  /** vllm-sim processes the REAL_PODS_PER_ROLE pairs are split over (1, 2 or 4; 1 is the first runs' setup). */
  simProcesses: number;
  changes: number;
  loadConcurrency: number;
  dwellMs: number;
}

async function runSize(ctx: ScenarioContext, total: number, s: RunSettings): Promise<SizeRun> {
  const machineLoad = loadavg().map((v) => Math.round(v * 100) / 100);
  const monitorPort = await freePort();
  const monitorUrl = `http://127.0.0.1:${monitorPort}`;
  ctx.log(
    `${total} pods: starting nats-server, the API fake, ${REAL_PODS_PER_ROLE}P+${REAL_PODS_PER_ROLE}D sims in ${s.simProcesses} processes, discovery, ${PROXIES} proxies`,
  );
  const perSim = REAL_PODS_PER_ROLE / s.simProcesses;
  const cluster = await startLocalCluster({
    // No sim pod is registered as itself: the registered pods are loopback addresses on their ports.
    prefill: 0,
    decode: 0,
    sparePerRole: perSim,
    // Discovery starts once the pods exist: its first list holds the whole pool, as after a restart.
    discoveries: 0,
    proxies: PROXIES,
    debounceMs: DEFAULT_DEBOUNCE_MS,
    heartbeatSecs: HEARTBEAT_SECS,
    leaseDurationSecs: LEASE_DURATION_SECS,
    // Every address of the machine, so 127.a.b.c:port reaches the sim pod at port.
    simArgs: ['--host', '0.0.0.0'],
    natsArgs: ['-m', String(monitorPort)],
  });
  let load: SteadyLoad | undefined;
  let openFiles: OpenFilesSampler | undefined;
  const extraSims: Awaited<ReturnType<typeof startSimFleetProcess>>[] = [];
  try {
    // The other real pods, each pair in its own process, also on every address.
    for (let i = 1; i < s.simProcesses; i++)
      extraSims.push(
        await startSimFleetProcess(['--prefill', String(perSim), '--decode', String(perSim), '--host', '0.0.0.0']),
      );
    const sims = [
      { pid: cluster.sim.pid, ports: cluster.simPods },
      ...extraSims.map((x) => ({
        pid: x.child.pid,
        ports: x.pods.map((p) => ({ role: p.role, port: Number(new URL(p.url).port) })),
      })),
    ];
    const named = new Map<number, string>([
      ...sims.map((x, i): [number, string] => [x.pid, `sim-${i}`]),
      ...cluster.proxies.map((p): [number, string] => [p.proc.pid, p.name]),
    ]);
    openFiles = new OpenFilesSampler([...named.keys()], OPEN_FILES_SAMPLE_MS);
    const portsOf = (role: string) => sims.flatMap((x) => x.ports.filter((p) => p.role === role).map((p) => p.port));
    const { members, spares } = scalePods(total, { prefill: portsOf('prefill'), decode: portsOf('decode') });
    const byName = new Map([...members, ...spares].map((p) => [p.name, p]));
    const counts = { prefill: members.filter((p) => p.role === 'prefill').length, decode: 0 };
    counts.decode = members.length - counts.prefill;
    for (const pod of members) register(cluster, pod);
    const startedAt = Date.now();
    await cluster.startDiscovery(0);
    const initial = await waitForInitialRings(cluster, counts);
    const initialMs = Math.max(...initial.map((a) => a.timeMs)) - startedAt;
    for (const p of cluster.proxies)
      if (!(await onRings(p, members)))
        throw new Error(`${p.name} is not on the registered pods after its first apply`);
    ctx.log(`${total} pods: every proxy on the full rings ${initialMs} ms after discovery was started`);

    const proxies = cluster.proxies;
    const leaderName = `pdrouter-discovery-${cluster.discoveries[0]?.identity}`;
    const loopBefore = await Promise.all(
      proxies.map(async (p) => parseHistogram(await fetchMetricsText(p.metricsUrl), EVENT_LOOP_HISTOGRAM)),
    );
    const running = new SteadyLoad({
      urls: proxies.map((p) => p.url),
      concurrency: s.loadConcurrency,
      model: MODEL,
      maxTokens: LOAD_MAX_TOKENS,
    });
    load = running;
    await sleep(s.dwellMs);

    let last = await connTotals(monitorUrl, leaderName);
    const plan = planChanges(s.changes, members, spares);
    const samples = await runChangePlan<ScalePod, Sample>({
      api: cluster.api,
      plan,
      pods: byName,
      dwellMs: s.dwellMs,
      register: (pod) => register(cluster, pod),
      // The registered pods share the real pods' servers, which keep serving.
      setServing: async () => {},
      watch(change, pod, want) {
        const from = proxies.map((p) => p.proc.lines.length);
        return async (t0) => {
          const swaps = await Promise.all(
            proxies.map(async (p, i) => {
              const line = await p.proc.waitFor(
                (l) => {
                  const a = parseSnapshotApplied(l);
                  return a !== undefined && a.prefill === want.prefill && a.decode === want.decode;
                },
                { stream: 'stdout', from: from[i] ?? 0, timeoutMs: CONVERGENCE_TIMEOUT_MS },
              );
              return parseSnapshotApplied(line) as SnapshotApplied;
            }),
          );
          if (new Set(swaps.map((a) => a.fingerprint)).size !== 1)
            throw new Error(`change ${change.index}: the proxies swapped to different fingerprints`);
          // Each proxy's own state: the changed pod is on its ring exactly when it joined.
          for (const p of proxies) {
            const state = await p.adminState();
            const on = state.rings?.[pod.role].members.includes(pod.url) ?? false;
            if (on !== change.joins)
              throw new Error(`change ${change.index} (${change.kind} ${pod.name}): ${p.name} has it on=${on}`);
          }
          const now = await connTotals(monitorUrl, leaderName);
          const perProxy = swaps.map((a) => a.timeMs - t0);
          const sample: Sample = {
            index: change.index,
            kind: change.kind,
            pod: pod.name,
            convergence_ms: Math.max(...perProxy),
            per_proxy_ms: perProxy,
            bytes_written: now.writtenBytes - last.writtenBytes,
            msgs_written: now.writtenMsgs - last.writtenMsgs,
            bytes_delivered: now.deliveredBytes - last.deliveredBytes,
          };
          last = now;
          if (change.index % 10 === 0 || change.index === plan.length - 1)
            ctx.log(
              `${total} pods: change ${change.index + 1}/${plan.length} ${change.kind} ${pod.name}: ` +
                `${sample.convergence_ms} ms, ${sample.bytes_written} B written (load: ${running.ok} ok, ${running.failed} failed)`,
            );
          return sample;
        };
      },
    });
    // Each proxy probes every member once per health-check interval (60 s), a round of thousands of new
    // connections: the load lasts until every proxy has done a whole round, so each size measures one (a fast
    // machine finishes the changes before the first round comes).
    ctx.log(`${total} pods: load until every proxy has probed the whole pool once`);
    await waitUntil(
      async () => {
        const done = await Promise.all(
          proxies.map(async (p) => {
            const h = healthProbes(await fetchMetricsText(p.metricsUrl));
            return h.ok + h.failed >= total;
          }),
        );
        return done.every(Boolean) ? true : undefined;
      },
      {
        timeoutMs: HEALTH_ROUND_TIMEOUT_MS,
        intervalMs: HEALTH_ROUND_POLL_MS,
        description: 'every proxy through a health-check round over the pool',
      },
    );
    const loadResult = await running.stop();
    load = undefined;
    const reports = await Promise.all(proxies.map((p, i) => proxyReport(p, loopBefore[i] as Histogram)));
    const peaks = await openFiles.stop();
    openFiles = undefined;
    const openFilesReport: OpenFiles[] = [...named].map(([pid, name]) => ({
      name,
      peak_open: peaks.get(pid)?.open ?? 0,
      limit: peaks.get(pid)?.limit ?? null,
    }));

    // One heartbeat period with no change: what discovery writes when nothing happens.
    const windowS = HEARTBEAT_SECS + 1;
    const quietFrom = await connTotals(monitorUrl, leaderName);
    await sleep(windowS * 1000);
    const quietTo = await connTotals(monitorUrl, leaderName);

    const by = (f: (x: Sample) => number) => distribution(samples.map(f));
    const kinds = [...new Set(samples.map((x) => x.kind))];
    return {
      pods: total,
      ok: true,
      machine_load_before: machineLoad,
      initial_snapshot_ms: initialMs,
      changes: samples.length,
      convergence_ms: by((x) => x.convergence_ms),
      per_kind_ms: Object.fromEntries(
        kinds.map((k) => [k, distribution(samples.filter((x) => x.kind === k).map((x) => x.convergence_ms))]),
      ),
      bytes_written_per_change: by((x) => x.bytes_written),
      msgs_written_per_change: by((x) => x.msgs_written),
      bytes_delivered_per_change: by((x) => x.bytes_delivered),
      heartbeat: {
        window_s: windowS,
        bytes_written: quietTo.writtenBytes - quietFrom.writtenBytes,
        msgs_written: quietTo.writtenMsgs - quietFrom.writtenMsgs,
        bytes_delivered: quietTo.deliveredBytes - quietFrom.deliveredBytes,
        bytes_per_heartbeat:
          quietTo.writtenMsgs > quietFrom.writtenMsgs
            ? Math.round(
                (quietTo.writtenBytes - quietFrom.writtenBytes) / (quietTo.writtenMsgs - quietFrom.writtenMsgs),
              )
            : null,
      },
      load: {
        requests_ok: loadResult.ok,
        failed_requests: loadResult.failed,
        failures: loadResult.failures,
        duration_s: Math.round(loadResult.durationS * 10) / 10,
        per_proxy: loadResult.perUrl,
      },
      proxies: reports,
      open_files: openFilesReport,
      samples,
    };
  } finally {
    if (load) await load.stop().catch(() => undefined);
    await openFiles?.stop();
    await cluster.close();
    await Promise.all(extraSims.map((x) => x.child.stop()));
  }
}

export async function runScaleScenario(ctx: ScenarioContext): Promise<void> {
  const sizes = ctx.ints('pods') ?? [...(ctx.quick ? QUICK_SIZES : DEFAULT_SIZES)];
  const largest = MAX_PODS - 2 * SPARE_PODS_PER_ROLE;
  const bad = sizes.find((n) => n < 2 || n > largest);
  if (bad !== undefined) throw new UsageError(`--pods: ${bad} is not a pool size from 2 to ${largest}`);
  const settings: RunSettings = {
    changes: ctx.int('changes') ?? (ctx.quick ? QUICK_CHANGES : DEFAULT_CHANGES),
    loadConcurrency: ctx.int('load-concurrency') ?? DEFAULT_LOAD_CONCURRENCY,
    dwellMs: ctx.int('dwell-ms') ?? DEFAULT_DWELL_MS,
    simProcesses: ctx.int('sim-processes') ?? DEFAULT_SIM_PROCESSES,
  };
  if (REAL_PODS_PER_ROLE % settings.simProcesses !== 0)
    throw new UsageError(
      `--sim-processes: ${settings.simProcesses} does not divide the ${REAL_PODS_PER_ROLE} real pods of each role (1, 2 or 4)`,
    );
  const runs: SizeRun[] = [];
  for (const pods of sizes) {
    const machineLoad = loadavg().map((v) => Math.round(v * 100) / 100);
    try {
      runs.push(await runSize(ctx, pods, settings));
    } catch (err) {
      const error = err instanceof Error ? err.message.split('\n').slice(0, 3).join(' ') : String(err);
      ctx.log(`${pods} pods: FAILED: ${error}`);
      runs.push({ pods, ok: false, error, machine_load_before: machineLoad });
    }
  }
  await report(ctx, settings, runs);
  const broken = runs.filter((r) => !r.ok || (r.load?.failed_requests ?? 0) > 0);
  if (broken.length > 0)
    throw new Error(
      `results written; ${broken.map((r) => `${r.pods} pods: ${r.error ?? `${r.load?.failed_requests} failed requests`}`).join('; ')}`,
    );
}

const perSimPair = (n: number) => `${n}P+${n}D`;
const cell = (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? 'n/a' : fmt(v, digits));
const kib = (bytes: number | null | undefined) =>
  bytes === undefined || bytes === null ? 'n/a' : fmt(bytes / 1024, 1);

async function report(ctx: ScenarioContext, s: RunSettings, runs: readonly SizeRun[]): Promise<void> {
  const machine = machineInfo();
  const machineLoadAfter = loadavg().map((v) => Math.round(v * 100) / 100);
  const method =
    'Convergence: Date.now() in the bench process right before the change is made in the Kubernetes API fake (in ' +
    "that process) to the `time` of the last proxy's `snapshot applied` line (same clock, 1 ms resolution); each " +
    "change is confirmed in every proxy's /admin/state. Bytes: nats-server /connz in_bytes (in_msgs) of the " +
    "discovery leader's connection and out_bytes of the proxies' connections, read after each change converged, so " +
    `an interval holds one change and some also a heartbeat (every ${HEARTBEAT_SECS} s; p50 is the change alone); the heartbeat column ` +
    `is the bytes per message written in an ${HEARTBEAT_SECS + 1} s window without changes after the load. Event-loop delay: each proxy's ` +
    `${EVENT_LOOP_HISTOGRAM} histogram (a 10 ms timer's lateness) over the load window, p99 by histogram_quantile and ` +
    "the longest as the bound of its bucket; nodejs_eventloop_lag_* are prom-client's monitorEventLoopDelay gauges " +
    '(10 ms resolution) since the scrape at the start of the load, the only other scrape. RSS: /proc/<pid>/status ' +
    'VmRSS after the load, and VmHWM (peak, including the first full apply).';
  const json = {
    scenario: 'scale',
    machine,
    command: ctx.command,
    measured: true,
    pinned: 'nothing: every process shares both cores with the others and with other work on the machine',
    machine_load_after: machineLoadAfter,
    setup: {
      topology: `nats-server (-m for /connz), Kubernetes API fake (deploy/'s Role enforced), 1 discovery (debounce ${DEFAULT_DEBOUNCE_MS} ms, heartbeat ${HEARTBEAT_SECS} s), ${PROXIES} proxies (P/D), ${REAL_PODS_PER_ROLE}P+${REAL_PODS_PER_ROLE}D vllm-sim pods on 0.0.0.0 in ${s.simProcesses} processes of ${perSimPair(REAL_PODS_PER_ROLE / s.simProcesses)} (the local cluster's, apps/discovery/scripts/local-cluster.ts, and ${s.simProcesses - 1} more)${s.simProcesses > 1 ? ', so no process holds every proxy connection to the pool' : ''}`,
      pods: 'half prefill, half decode; pod k of a role at its own loopback address 127.a.b.c and the port of real pod k mod 4 of its role, so every member has its own URL and every request reaches a real pod',
      sim_processes: s.simProcesses,
      changes_per_size: s.changes,
      change_plan:
        'bench/src/scenarios/convergence-plan.ts (unready/ready, delete/recreate, terminate/recreate, scale-up/scale-down), one at a time',
      dwell_ms: s.dwellMs,
      load: {
        concurrency: s.loadConcurrency,
        max_tokens: LOAD_MAX_TOKENS,
        stream: true,
        through: 'every proxy, round robin',
        until: 'the change plan is done and every proxy has done a health-check round over the whole pool',
      },
      method,
    },
    runs,
  };

  const okRuns = runs.filter((r) => r.ok);
  const md = [
    '# scale — the control plane with 1,000 to 10,000 pods, churned under load',
    '',
    machineMarkdown(machine, ctx.command),
    `- Pinned: ${json.pinned}. Load average (1/5/15 min) before each size is in the table; after the run: ${machineLoadAfter.join(' / ')}.`,
    '',
    `Setup: ${json.setup.topology}. Pods: ${json.setup.pods}. ${s.changes} pod changes per size ` +
      `(${json.setup.change_plan}), each converged and then serving for ${s.dwellMs} ms, under ${s.loadConcurrency} ` +
      'streamed completions in flight through every proxy; the load lasts until every proxy has also done a health-check round over the whole pool (its first comes 60 s after its start).',
    '',
    markdownTable(
      [
        'Pods',
        'Result',
        'Load avg before',
        'Discovery start -> every proxy on the full rings (ms)',
        'Requests ok / failed',
      ],
      runs.map((r) => [
        r.pods.toLocaleString('en-US'),
        r.ok ? 'ok' : `**failed**: ${r.error}`,
        r.machine_load_before.join(' / '),
        cell(r.initial_snapshot_ms, 0),
        r.load ? `${r.load.requests_ok} / ${r.load.failed_requests}` : 'n/a',
      ]),
    ),
    '',
    'Convergence (pod change in the API -> every proxy swapped), bytes the discovery leader wrote to NATS:',
    '',
    markdownTable(
      [
        'Pods',
        'Changes',
        'Convergence p50 / p99 / max (ms)',
        'Written per change p50 / max (KiB)',
        'Msgs per change p50',
        'Delivered to 3 proxies per change p50 (KiB)',
        `Written per heartbeat (KiB; ${HEARTBEAT_SECS + 1} s without changes)`,
      ],
      okRuns.map((r) => [
        r.pods.toLocaleString('en-US'),
        r.changes ?? 0,
        `${cell(r.convergence_ms?.p50)} / ${cell(r.convergence_ms?.p99)} / ${cell(r.convergence_ms?.max)}`,
        `${kib(r.bytes_written_per_change?.p50)} / ${kib(r.bytes_written_per_change?.max)}`,
        cell(r.msgs_written_per_change?.p50, 0),
        kib(r.bytes_delivered_per_change?.p50),
        kib(r.heartbeat?.bytes_per_heartbeat),
      ]),
    ),
    '',
    'Each proxy over the load window (event-loop delay) and after it (memory):',
    '',
    markdownTable(
      [
        'Pods',
        'Proxy',
        `${EVENT_LOOP_HISTOGRAM} p50 / p99 (ms)`,
        'longest delay at most (ms, bucket bound)',
        'nodejs_eventloop_lag p99 / max (ms)',
        'RSS after / peak (MiB)',
        'Health probes ok / failed',
      ],
      okRuns.flatMap((r) =>
        (r.proxies ?? []).map((p) => [
          r.pods.toLocaleString('en-US'),
          p.name,
          `${cell(p.event_loop_delay_ms.p50)} / ${cell(p.event_loop_delay_ms.p99)}`,
          cell(p.event_loop_delay_ms.max_at_most, 0),
          `${cell(p.nodejs_eventloop_lag_ms.p99)} / ${cell(p.nodejs_eventloop_lag_ms.max)}`,
          `${p.rss_mib} / ${p.peak_rss_mib}`,
          `${p.health_probes.ok} / ${p.health_probes.failed}`,
        ]),
      ),
    ),
    '',
    'Open file descriptors, the most at once per process (sampled every second over the size; limit: its soft RLIMIT_NOFILE; each registered pod a proxy probed or routed to keeps a pooled connection on both ends):',
    '',
    markdownTable(
      ['Pods', ...(okRuns[0]?.open_files ?? []).map((f) => f.name)],
      okRuns.map((r) => [
        r.pods.toLocaleString('en-US'),
        ...(r.open_files ?? []).map(
          (f) => `${fmt(f.peak_open, 0)} / ${f.limit === null ? 'unlimited' : fmt(f.limit, 0)}`,
        ),
      ]),
    ),
    '',
    ...okRuns.flatMap((r) =>
      (r.load?.failures.length ?? 0) > 0
        ? [`Failures at ${r.pods} pods (first ones):`, '', ...(r.load?.failures ?? []).map((f) => `- ${f}`), '']
        : [],
    ),
    `Measurement: ${method}`,
  ].join('\n');
  const files = await writeResults(ctx.name, json, md);
  ctx.log(`wrote ${files.join(', ')}`);
}
