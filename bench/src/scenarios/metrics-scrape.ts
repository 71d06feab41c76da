// Prometheus scraping a proxy that routes to 10,000 pods: the per-pod families (vllm_router_*{worker})
// as plain numbers on the pods' state, streamed in slices (pod-series.ts, the proxy's), side by side with
// the same families as prom-client series bound per pod and rendered by registry.metrics() in one go.
// Measures the heap the per-pod series hold, the scrape's duration as the scraper sees it, and the
// proxy's event-loop delay while it is scraped. The scraper is another process (fetch in a loop).
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Registry } from 'prom-client';
import { buildConfig } from '../../../apps/proxy/src/config.ts';
import { parseFlags } from '../../../apps/proxy/src/flags.ts';
import { silentLogger } from '../../../apps/proxy/src/logger.ts';
import { ProxyMetrics } from '../../../apps/proxy/src/metrics.ts';
import { serveMetrics } from '../../../apps/proxy/src/metrics-endpoint.ts';
import { POD_FAMILIES, type PodCounters } from '../../../apps/proxy/src/pod-series.ts';
import { PodRegistry } from '../../../apps/proxy/src/pods.ts';
import { collectedHeapBytes, GcWatch } from '../harness/gc.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import { percentile } from '../loadgen/stats.ts';
import type { ScenarioContext } from './context.ts';

const DEFAULT_PODS = 10_000;
const QUICK_PODS = 2_000;
const SCRAPES = 10;
const QUICK_SCRAPES = 3;
const REPEATS = 2;
const SCRAPER_TIMEOUT_MS = 120_000;

/** The scraper: GETs the URL it is sent, `n` times one after the other, and answers each duration and size. */
const SCRAPER = `
process.on('message', async ({ url, n }) => {
  const rows = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(url);
    const body = await res.text();
    rows.push({ ms: performance.now() - t, bytes: body.length, status: res.status });
  }
  process.send(rows);
});
process.on('disconnect', () => process.exit(0));
`;

type Variant = 'pdrouter' | 'prom-client';

/** The state of the variant being measured, kept reachable until its scrapes are done. */
const held = new Set<unknown>();

interface ScrapeRow {
  variant: Variant;
  heapPerPodBytes: number;
  scrapeP50Ms: number;
  scrapeMaxMs: number;
  bytes: number;
  loopP99Ms: number;
  loopMaxMs: number;
  gcCount: number;
  gcLongestMs: number;
}

/** What traffic leaves on a pod: both legs counted, breaker outcomes, one in flight on every tenth. */
function touch(c: PodCounters, i: number): void {
  c.prefillRequests = 100 + i;
  c.decodeRequests = 100 + i;
  c.cbSuccesses = 200 + i;
  c.cbFailures = i % 7;
  c.running = i % 10 === 0 ? 1 : 0;
}

/** The pod registry of a proxy whose traffic has touched every pod. */
function podRegistry(urls: readonly string[], metrics: ProxyMetrics): PodRegistry {
  const pods = new PodRegistry({
    config: buildConfig(parseFlags(['--snapshot-file', '/unused'])).health,
    metrics,
    logger: silentLogger,
  });
  pods.setMembers(urls);
  for (let i = 0; i < urls.length; i++) touch(pods.get(urls[i] as string).counters, i);
  return pods;
}

/** The proxy's way: ProxyMetrics reads the registry's states, GET /metrics as the proxy serves it. */
function pdrouterServer(urls: readonly string[]): { server: Server; keep: unknown } {
  const metrics = new ProxyMetrics({ defaultMetrics: false });
  const pods = podRegistry(urls, metrics);
  return { server: createServer((_req, res) => serveMetrics(metrics, res)), keep: pods };
}

/**
 * The same pod registry, with the per-pod families as prom-client series: each pod's children bound once
 * (`labels(worker)`), values set through them, the text rendered by registry.metrics() in one go after
 * ProxyMetrics' own families.
 */
function promClientServer(urls: readonly string[]): { server: Server; keep: unknown } {
  const metrics = new ProxyMetrics({ defaultMetrics: false });
  const pods = podRegistry(urls, metrics);
  const registry = new Registry();
  const families = POD_FAMILIES.map((f) => {
    const labelNames = [...f.labelNames];
    return f.type === 'counter'
      ? new Counter({ name: f.name, help: f.help, labelNames, registers: [registry] })
      : new Gauge({ name: f.name, help: f.help, labelNames, registers: [registry] });
  });
  const children = urls.map((url) => {
    const values = pods.get(url).counters;
    return POD_FAMILIES.flatMap((f, k) =>
      f.series.map((s) => {
        const outcome = /outcome="(\w+)"/.exec(s.labels)?.[1];
        const metric = families[k];
        const labels = outcome === undefined ? [url] : [url, outcome];
        const v = s.value(values);
        if (metric instanceof Gauge) {
          const child = metric.labels(...labels);
          child.set(v);
          return child;
        }
        const child = (metric as Counter).labels(...labels);
        if (v > 0) child.inc(v);
        return child;
      }),
    );
  });
  const server = createServer((_req, res) => {
    Promise.all([metrics.registry.metrics(), registry.metrics()]).then(([own, perPod]) => {
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(`${own}\n${perPod}`);
    });
  });
  return { server, keep: [pods, children] };
}

function startScraper(): ChildProcess {
  return spawn(process.execPath, ['-e', SCRAPER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function scrape(child: ChildProcess, url: string, n: number): Promise<{ ms: number; bytes: number; status: number }[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`scrapes of ${url} took over ${SCRAPER_TIMEOUT_MS} ms`)),
      SCRAPER_TIMEOUT_MS,
    );
    child.once('message', (rows) => {
      clearTimeout(timer);
      resolve(rows as { ms: number; bytes: number; status: number }[]);
    });
    child.send({ url, n });
  });
}

async function measure(
  variant: Variant,
  urls: readonly string[],
  scraper: ChildProcess,
  n: number,
): Promise<ScrapeRow> {
  const before = collectedHeapBytes();
  const { server, keep } = variant === 'pdrouter' ? pdrouterServer(urls) : promClientServer(urls);
  const heapPerPodBytes = (collectedHeapBytes() - before) / urls.length;
  held.add(keep);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  try {
    await scrape(scraper, url, 1); // warm: V8 optimises the rendering before it is measured
    const gc = new GcWatch();
    gc.start();
    histogram.enable();
    const rows = await scrape(scraper, url, n);
    histogram.disable();
    const gcSeen = gc.stop();
    if (rows.some((r) => r.status !== 200)) throw new Error(`${variant}: a scrape failed`);
    const ms = rows.map((r) => r.ms);
    return {
      variant,
      heapPerPodBytes: Math.round(heapPerPodBytes),
      scrapeP50Ms: percentile(ms, 50),
      scrapeMaxMs: Math.max(...ms),
      bytes: rows[0]?.bytes ?? 0,
      loopP99Ms: histogram.percentile(99) / 1e6,
      loopMaxMs: histogram.max / 1e6,
      gcCount: gcSeen.collections,
      gcLongestMs: gcSeen.longestPauseMs,
    };
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    held.delete(keep);
  }
}

export async function runMetricsScrapeScenario(ctx: ScenarioContext): Promise<void> {
  const count = ctx.int('pods') ?? (ctx.quick ? QUICK_PODS : DEFAULT_PODS);
  const n = ctx.quick ? QUICK_SCRAPES : SCRAPES;
  const urls = Array.from({ length: count }, (_, i) => `http://10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:8000`);
  const scraper = startScraper();
  const rows: ScrapeRow[] = [];
  try {
    for (let r = 0; r < REPEATS; r++) {
      const order: Variant[] = r % 2 === 0 ? ['pdrouter', 'prom-client'] : ['prom-client', 'pdrouter'];
      for (const variant of order) {
        const row = await measure(variant, urls, scraper, n);
        ctx.log(`${variant}: scrape p50 ${fmt(row.scrapeP50Ms)} ms, loop max ${fmt(row.loopMaxMs)} ms`);
        rows.push(row);
      }
    }
  } finally {
    scraper.kill();
  }
  const machine = machineInfo();
  const md = [
    `# metrics-scrape — GET /metrics of a proxy routing to ${count} pods`,
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `Both variants hold the proxy's PodRegistry over the pods; each pod has both legs counted, circuit-breaker outcomes and (one in ten) a leg in flight, so its counters have series. The heap column is what the registry and the per-pod series hold, per pod. **pdrouter**: the proxy's PodRegistry, ProxyMetrics and /metrics handler (per-pod values are numbers on the pod's state, streamed in slices of ~2 ms). **prom-client**: the same families as prom-client series, children bound once per pod, the text rendered by registry.metrics() in one go. The scraper is another process (fetch, ${n} scrapes one after another after one warm-up); the event-loop delay is the serving process's over those scrapes. ${REPEATS} interleaved runs per variant. Nothing pinned.`,
    '',
    markdownTable(
      [
        'variant',
        'heap of pod state and series, bytes per pod',
        'scrape p50 / max (ms)',
        'body (MB)',
        'event-loop delay p99 / max (ms)',
        'GCs, longest pause (ms)',
      ],
      rows.map((r) => [
        r.variant,
        fmt(r.heapPerPodBytes, 0),
        `${fmt(r.scrapeP50Ms)} / ${fmt(r.scrapeMaxMs)}`,
        fmt(r.bytes / 1e6),
        `${fmt(r.loopP99Ms)} / ${fmt(r.loopMaxMs)}`,
        `${r.gcCount}, ${fmt(r.gcLongestMs)}`,
      ]),
    ),
    '',
  ].join('\n');
  process.stdout.write(md);
  const files = await writeResults(
    ctx.name,
    { scenario: ctx.name, command: ctx.command, machine, pods: count, rows },
    md,
  );
  ctx.log(`wrote ${files.join(', ')}`);
}
