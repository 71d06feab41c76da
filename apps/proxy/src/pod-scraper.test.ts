// The pod /metrics scraper against real HTTP servers through the proxy's own undici pools: staleness,
// timeouts, the old KV metric name, garbage, one read in flight per pod, departed pods, Authorization.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeClock, metricSum, waitUntil } from '@pdrouter/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyMetrics } from './metrics.ts';
import { MAX_METRICS_BYTES, PodScraper, type PodScraperSettings, upstreamMetricsFetch } from './pod-scraper.ts';
import { Upstreams } from './upstream.ts';

const TIMEOUTS = {
  connectMs: 1000,
  firstByteMs: 5000,
  idleMs: 5000,
  totalMs: 10_000,
  keepAliveMs: 5000,
  clientBodyMs: 5000,
};
const SETTINGS: PodScraperSettings = { intervalMs: 1000, timeoutMs: 2000, staleMs: 3000 };

const vllmText = (running: number, waiting: number, kv: string) =>
  `# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{engine="0",model_name="m"} ${running}\n` +
  `vllm:num_requests_waiting{engine="0",model_name="m"} ${waiting}\n${kv}\n`;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Pod {
  url: string;
  server: Server;
  /** /metrics requests received, and how many were open at most at once. */
  hits: number;
  maxOpen: number;
  authorizations: (string | undefined)[];
  closedEarly: number;
  handler: Handler;
}

const servers: Server[] = [];
const closers: (() => void | Promise<void>)[] = [];

afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function startPod(handler: Handler): Promise<Pod> {
  let open = 0;
  const pod: Pod = {
    url: '',
    server: undefined as unknown as Server,
    hits: 0,
    maxOpen: 0,
    authorizations: [],
    closedEarly: 0,
    handler,
  };
  pod.server = createServer((req, res) => {
    pod.hits++;
    open++;
    pod.maxOpen = Math.max(pod.maxOpen, open);
    pod.authorizations.push(req.headers.authorization);
    res.on('close', () => {
      open--;
      if (!res.writableFinished) pod.closedEarly++;
    });
    pod.handler(req, res);
  });
  servers.push(pod.server);
  await new Promise<void>((r) => pod.server.listen(0, '127.0.0.1', r));
  pod.url = `http://127.0.0.1:${(pod.server.address() as AddressInfo).port}`;
  return pod;
}

function scraperFor(
  options: { settings?: PodScraperSettings; authorization?: string; clock?: FakeClock; random?: () => number } = {},
) {
  const settings = options.settings ?? SETTINGS;
  const clock = options.clock ?? new FakeClock();
  const metrics = new ProxyMetrics({ defaultMetrics: false });
  const upstreams = new Upstreams({ timeouts: TIMEOUTS });
  const scraper = new PodScraper({
    settings,
    fetch: upstreamMetricsFetch(upstreams, options.authorization, settings.timeoutMs),
    clock,
    metrics,
    random: options.random ?? (() => 0),
  });
  closers.push(async () => {
    scraper.close();
    await upstreams.close();
  });
  const errors = async (reason: string) =>
    metricSum(await metrics.text(), 'pdrouter_pod_scrape_errors_total', { reason });
  const stale = async () => metricSum(await metrics.text(), 'pdrouter_pod_signals_stale');
  return { scraper, clock, metrics, errors, stale };
}

const text =
  (body: string, status = 200): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(body);
  };

describe('PodScraper', () => {
  it("reads a pod's queue and KV gauges every interval, and ignores them once older than the staleness limit", async () => {
    const pod = await startPod(text(vllmText(3, 5, 'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25')));
    const { scraper, clock, errors, stale } = scraperFor();
    scraper.setMembers([[pod.url, pod.url]]);
    expect(scraper.signals(pod.url)).toBeUndefined();
    expect(await stale()).toBe(1);
    clock.advance(0);
    await waitUntil(() => scraper.signals(pod.url), { timeoutMs: 5000, description: 'the first read' });
    expect(scraper.signals(pod.url)).toEqual({ running: 3, waiting: 5, kvCacheUsage: 0.25 });
    expect(await stale()).toBe(0);
    // The pod starts failing: the last gauges count until they are older than --pod-metrics-stale-ms.
    pod.handler = text('overloaded', 503);
    clock.advance(SETTINGS.intervalMs);
    await waitUntil(async () => (await errors('http')) === 1, { timeoutMs: 5000, description: 'the failed read' });
    expect(scraper.signals(pod.url)).toEqual({ running: 3, waiting: 5, kvCacheUsage: 0.25 });
    clock.advance(SETTINGS.staleMs - SETTINGS.intervalMs + 1);
    expect(scraper.signals(pod.url)).toBeUndefined();
    expect(await stale()).toBe(1);
    await waitUntil(async () => (await errors('http')) === 2, { timeoutMs: 5000, description: 'the next read' });
    expect(scraper.views()[0]).toMatchObject({ url: pod.url, fresh: false, lastError: { reason: 'http' } });
    expect(pod.hits).toBe(3);
  });

  it('reads the old vllm:gpu_cache_usage_perc, and a data-parallel rank reads its pod', async () => {
    const pod = await startPod(text(vllmText(1, 0, 'vllm:gpu_cache_usage_perc{model_name="m"} 0.5')));
    const { scraper } = scraperFor();
    scraper.setMembers([
      [`${pod.url}@0`, pod.url],
      [`${pod.url}@1`, pod.url],
    ]);
    await scraper.scrape(pod.url);
    expect(scraper.signals(`${pod.url}@1`)).toEqual({ running: 1, waiting: 0, kvCacheUsage: 0.5 });
    expect(pod.hits).toBe(1);
  });

  it('a read past --pod-metrics-timeout-ms is a timeout, counted; the last gauges age meanwhile', async () => {
    const pod = await startPod(text(vllmText(2, 0, '')));
    const settings = { intervalMs: 1000, timeoutMs: 150, staleMs: 3000 };
    const { scraper, errors } = scraperFor({ settings });
    scraper.setMembers([[pod.url, pod.url]]);
    await scraper.scrape(pod.url);
    pod.handler = () => {}; // never answers
    await scraper.scrape(pod.url);
    expect(await errors('timeout')).toBe(1);
    expect(scraper.signals(pod.url)?.running).toBe(2);
    // Headers sent, body never finished: a timeout too.
    pod.handler = (_req, res) => {
      res.writeHead(200);
      res.write('vllm:num_requests_running 9\n');
    };
    await scraper.scrape(pod.url);
    expect(await errors('timeout')).toBe(2);
    expect(scraper.signals(pod.url)?.running).toBe(2);
  });

  it('garbage, an oversized body and a cut connection are errors by reason, never a crash or a pod at 0', async () => {
    const pod = await startPod(text('<html><body>502 Bad Gateway</body></html>'));
    const { scraper, errors } = scraperFor();
    scraper.setMembers([[pod.url, pod.url]]);
    await scraper.scrape(pod.url);
    expect(await errors('parse')).toBe(1);
    pod.handler = (_req, res) => {
      res.writeHead(200);
      res.end(Buffer.from([0xff, 0xfe, 0x00, 0x76, 0x6c, 0x0a, 0x00]));
    };
    await scraper.scrape(pod.url);
    expect(await errors('parse')).toBe(2);
    pod.handler = (_req, res) => {
      res.writeHead(200);
      res.end(`vllm:num_requests_running 1\n${'#'.repeat(MAX_METRICS_BYTES)}`);
    };
    await scraper.scrape(pod.url);
    expect(await errors('too_large')).toBe(1);
    pod.handler = (req) => req.socket.destroy();
    await scraper.scrape(pod.url);
    expect(await errors('network')).toBe(1);
    expect(scraper.signals(pod.url)).toBeUndefined();
  });

  it('keeps one read in flight per pod however far the interval runs ahead, then reads on', async () => {
    let release: () => void = () => {};
    const pod = await startPod((_req, res) => {
      release = () => text(vllmText(4, 1, ''))(_req, res);
    });
    const { scraper, clock } = scraperFor({ settings: { intervalMs: 100, timeoutMs: 5000, staleMs: 10_000 } });
    scraper.setMembers([[pod.url, pod.url]]);
    clock.advance(0);
    await waitUntil(() => pod.hits === 1, { timeoutMs: 5000, description: 'the first read arrives' });
    for (let i = 0; i < 20; i++) clock.advance(100);
    await scraper.scrape(pod.url); // already in flight: returns at once
    expect(pod.hits).toBe(1);
    release();
    await waitUntil(() => scraper.signals(pod.url) !== undefined, { timeoutMs: 5000, description: 'gauges read' });
    pod.handler = text(vllmText(4, 1, ''));
    clock.advance(100);
    await waitUntil(() => pod.hits === 2, { timeoutMs: 5000, description: 'the next read' });
    expect(pod.maxOpen).toBe(1);
  });

  it('a pod that leaves the snapshot has its read aborted and is read no more', async () => {
    const pod = await startPod(() => {}); // hangs
    const { scraper, clock } = scraperFor({ settings: { intervalMs: 100, timeoutMs: 10_000, staleMs: 1000 } });
    scraper.setMembers([[pod.url, pod.url]]);
    clock.advance(0);
    await waitUntil(() => pod.hits === 1, { timeoutMs: 5000, description: 'the read arrives' });
    scraper.setMembers([]);
    await waitUntil(() => pod.closedEarly === 1, { timeoutMs: 5000, description: 'the read is aborted' });
    for (let i = 0; i < 10; i++) clock.advance(100);
    await new Promise((r) => setTimeout(r, 50));
    expect(pod.hits).toBe(1);
    expect(scraper.views()).toEqual([]);
  });

  it('changeMembers starts and stops the loops setMembers would; ranks of one pod share a loop until the last goes', async () => {
    const a = await startPod(text('vllm:num_requests_running 1\n'));
    const b = await startPod(text('vllm:num_requests_running 2\n'));
    const { scraper, clock } = scraperFor({ settings: { intervalMs: 100, timeoutMs: 1000, staleMs: 10_000 } });
    const urls = () =>
      scraper
        .views()
        .map((v) => v.url)
        .sort();
    scraper.changeMembers(
      [
        [`${a.url}@0`, a.url],
        [`${a.url}@1`, a.url],
        [b.url, b.url],
      ],
      [],
    );
    expect(urls()).toEqual([a.url, b.url].sort());
    clock.advance(0);
    await waitUntil(() => scraper.signals(`${a.url}@1`)?.running === 1, { timeoutMs: 5000, description: 'a read' });
    scraper.changeMembers([], [`${a.url}@0`]);
    expect(urls()).toEqual([a.url, b.url].sort());
    // Left and back in one change: the loop and its last reading stay.
    scraper.changeMembers([[`${a.url}@1`, a.url]], [`${a.url}@1`]);
    expect(scraper.signals(`${a.url}@1`)?.running).toBe(1);
    scraper.changeMembers([], [`${a.url}@1`]);
    expect(urls()).toEqual([b.url]);
    scraper.setMembers([[b.url, b.url]]);
    expect(urls()).toEqual([b.url]);
    scraper.setMembers([]);
    expect(urls()).toEqual([]);
  });

  it('sends the Authorization the health probes send (--api-key)', async () => {
    const pod = await startPod((req, res) =>
      req.headers.authorization === 'Bearer pod-key'
        ? text(vllmText(1, 1, ''))(req, res)
        : text('unauthorized', 401)(req, res),
    );
    const { scraper } = scraperFor({ authorization: 'Bearer pod-key' });
    scraper.setMembers([[pod.url, pod.url]]);
    await scraper.scrape(pod.url);
    expect(pod.authorizations).toEqual(['Bearer pod-key']);
    expect(scraper.signals(pod.url)).toEqual({ running: 1, waiting: 1, kvCacheUsage: undefined });
  });
});
