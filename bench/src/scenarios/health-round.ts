// One health-check round over a 10,000-pod fleet, in the proxy's own parts (HealthChecker, PodRegistry,
// Upstreams, the proxy's probe): the round's probe starts spread over half the interval (the default)
// against all started as fast as 32 in flight allow, interleaved, each on fresh pools. Measures the
// event-loop delay and garbage collection during the round. The pods are one HTTP server in another
// process, listening on 0.0.0.0, reached at a loopback address per pod (127.a.b.c), so every pod has
// its own pool and connection as in a real fleet.
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { buildConfig } from '../../../apps/proxy/src/config.ts';
import { parseFlags } from '../../../apps/proxy/src/flags.ts';
import { HealthChecker, ROUND_SPREAD_SHARE } from '../../../apps/proxy/src/health-checker.ts';
import { silentLogger } from '../../../apps/proxy/src/logger.ts';
import { ProxyMetrics } from '../../../apps/proxy/src/metrics.ts';
import { PodRegistry, systemClock } from '../../../apps/proxy/src/pods.ts';
import { Upstreams } from '../../../apps/proxy/src/upstream.ts';
import { collectedHeapBytes, GcWatch } from '../harness/gc.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import type { ScenarioContext } from './context.ts';

const DEFAULT_PODS = 10_000;
const QUICK_PODS = 2_000;
/** The round's interval: half of it is the spread. */
const INTERVAL_MS = 20_000;
const REPEATS = 2;
const QUICK_REPEATS = 1;
const SERVER_START_TIMEOUT_MS = 10_000;

/** The pods: an HTTP server answering 200 on every path, keeping connections open as vLLM does. */
const SERVER = `
const s = require('node:http').createServer({ keepAliveTimeout: 120000 }, (q, r) => r.end('ok'));
s.listen(0, '0.0.0.0', () => process.send(s.address().port));
process.on('disconnect', () => process.exit(0));
`;

async function startPods(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('pod server did not start')), SERVER_START_TIMEOUT_MS);
    child.once('message', (p) => {
      clearTimeout(timer);
      resolve(Number(p));
    });
    child.once('exit', (code) => reject(new Error(`pod server exited (${code})`)));
  });
  return { port, stop: () => child.kill() };
}

interface RoundResult {
  variant: 'spread' | 'burst';
  roundMs: number;
  ok: number;
  failed: number;
  loopP50Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
  gcCount: number;
  gcLongestMs: number;
  /** Heap the round's connections hold, per pod (after full collections before and after the round). */
  heapPerPodKiB: number;
}

async function round(urls: readonly string[], spreadShare: number): Promise<RoundResult> {
  const config = buildConfig(parseFlags(['--snapshot-file', '/unused']));
  const upstreams = new Upstreams({ timeouts: config.timeouts });
  const metrics = new ProxyMetrics({ defaultMetrics: false });
  const pods = new PodRegistry({ config: config.health, metrics, logger: silentLogger });
  pods.setMembers(urls);
  let ok = 0;
  let failed = 0;
  // The proxy's probe (proxy.ts), on the proxy's upstream pools.
  const checker = new HealthChecker({
    registry: pods,
    probe: async (url) => {
      try {
        const res = await upstreams.request(url, {
          method: 'GET',
          path: config.health.probePath,
          headers: {},
          signal: AbortSignal.timeout(config.health.probeTimeoutMs),
          headersTimeoutMs: config.health.probeTimeoutMs,
        });
        await res.body.dump();
        const good = res.statusCode === 200;
        if (good) ok++;
        else failed++;
        return good;
      } catch {
        failed++;
        return false;
      }
    },
    intervalMs: INTERVAL_MS,
    clock: systemClock,
    metrics,
    spreadShare,
  });
  const gc = new GcWatch();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  // Full collections before and after the round: the heap its connections hold, without its garbage.
  const heapBefore = collectedHeapBytes();
  gc.start();
  loop.enable();
  const start = performance.now();
  await checker.round();
  const roundMs = performance.now() - start;
  loop.disable();
  const gcSeen = gc.stop();
  const heapPerPodKiB = (collectedHeapBytes() - heapBefore) / urls.length / 1024;
  checker.close();
  pods.close();
  await upstreams.close();
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  return {
    variant: spreadShare > 0 ? 'spread' : 'burst',
    roundMs: Math.round(roundMs),
    ok,
    failed,
    loopP50Ms: ms(loop.percentile(50)),
    loopP99Ms: ms(loop.percentile(99)),
    loopMaxMs: ms(loop.max),
    gcCount: gcSeen.collections,
    gcLongestMs: gcSeen.longestPauseMs,
    heapPerPodKiB: Math.round(heapPerPodKiB * 10) / 10,
  };
}

export async function runHealthRoundScenario(ctx: ScenarioContext): Promise<void> {
  const count = ctx.int('pods') ?? (ctx.quick ? QUICK_PODS : DEFAULT_PODS);
  const repeats = ctx.quick ? QUICK_REPEATS : REPEATS;
  const server = await startPods();
  const rows: RoundResult[] = [];
  try {
    const urls = Array.from(
      { length: count },
      (_, i) => `http://127.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}:${server.port}`,
    );
    for (let r = 0; r < repeats; r++) {
      // Interleaved, alternating which goes first.
      const order = r % 2 === 0 ? [ROUND_SPREAD_SHARE, 0] : [0, ROUND_SPREAD_SHARE];
      for (const share of order) {
        const row = await round(urls, share);
        ctx.log(`${row.variant}: round ${row.roundMs} ms, loop p99 ${row.loopP99Ms} max ${row.loopMaxMs} ms`);
        rows.push(row);
      }
    }
  } finally {
    server.stop();
  }
  const machine = machineInfo();
  const md = [
    `# health-round — one health-check round over ${count} pods`,
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `The proxy's HealthChecker, PodRegistry, Upstreams and probe in this process; the pods one HTTP server in another process (keep-alive 120 s), one loopback address per pod. Interval ${INTERVAL_MS / 1000} s: **spread** starts the round's first 256 probes at once and the rest over ${(INTERVAL_MS * ROUND_SPREAD_SHARE) / 1000} s (the proxy's behaviour); **burst** starts every probe as soon as one of the 32 in flight is done. Fresh pools per round, ${repeats} interleaved run(s) per variant. Nothing pinned.`,
    '',
    markdownTable(
      [
        'variant',
        'round (ms)',
        'probes ok / failed',
        'event-loop delay p50 / p99 / max (ms)',
        'GCs, longest pause (ms)',
        'heap held per pod after the round (KiB)',
      ],
      rows.map((r) => [
        r.variant,
        fmt(r.roundMs, 0),
        `${r.ok} / ${r.failed}`,
        `${fmt(r.loopP50Ms)} / ${fmt(r.loopP99Ms)} / ${fmt(r.loopMaxMs)}`,
        `${r.gcCount}, ${fmt(r.gcLongestMs)}`,
        fmt(r.heapPerPodKiB, 1),
      ]),
    ),
    '',
  ].join('\n');
  process.stdout.write(md);
  const files = await writeResults(
    ctx.name,
    { scenario: ctx.name, command: ctx.command, machine, pods: count, intervalMs: INTERVAL_MS, rows },
    md,
  );
  ctx.log(`wrote ${files.join(', ')}`);
}
