import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runToEnd } from '@pdrouter/core';
import { metricSum } from '@pdrouter/testkit';
import { Counter, Gauge, Registry } from 'prom-client';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { buildConfig } from './config.ts';
import { parseFlags } from './flags.ts';
import { silentLogger } from './logger.ts';
import { ProxyMetrics } from './metrics.ts';
import { serveMetrics } from './metrics-endpoint.ts';
import { POD_FAMILIES, PodCounters, type PodSeriesSource, podSeriesText } from './pod-series.ts';
import { PodRegistry } from './pods.ts';

// The proxy's default health settings.
const HEALTH = buildConfig(parseFlags(['--snapshot-file', '/unused'])).health;

function pods(n: number): PodSeriesSource[] {
  return Array.from({ length: n }, (_, i) => {
    const counters = new PodCounters();
    // Every field a different value, some counters untouched.
    counters.prefillRequests = i % 3 === 0 ? 0 : i + 1;
    counters.decodeRequests = i + 2;
    counters.processed = 0;
    counters.prefillErrors = i % 2;
    counters.decodeErrors = 0;
    counters.streamErrors = i === 1 ? 7 : 0;
    counters.running = i % 4;
    counters.health = i % 5 === 0 ? 0 : 1;
    counters.ejections = i % 5 === 0 ? 1 : 0;
    counters.readmissions = 0;
    counters.cbState = i % 3;
    counters.cbSuccesses = i * 10;
    counters.cbFailures = i % 2;
    return { url: `http://10.0.0.${i}:8000`, counters };
  });
}

const text = (source: readonly PodSeriesSource[]) => {
  const chunks: string[] = [];
  runToEnd(
    podSeriesText(
      () => source,
      (c) => chunks.push(c),
    ),
  );
  return chunks.join('');
};

/** The same pods as prom-client renders them: counters only once incremented, gauges always. */
async function promClientText(source: readonly PodSeriesSource[]): Promise<string> {
  const registry = new Registry();
  for (const family of POD_FAMILIES) {
    const labelNames = [...family.labelNames];
    const metric =
      family.type === 'counter'
        ? new Counter({ name: family.name, help: family.help, labelNames, registers: [registry] })
        : new Gauge({ name: family.name, help: family.help, labelNames, registers: [registry] });
    for (const pod of source) {
      for (const s of family.series) {
        const labels: Record<string, string> = { worker: pod.url };
        const outcome = /outcome="(\w+)"/.exec(s.labels)?.[1];
        if (outcome !== undefined) labels.outcome = outcome;
        const v = s.value(pod.counters);
        if (metric instanceof Counter) {
          if (v > 0) metric.inc(labels, v);
        } else metric.set(labels, v);
      }
    }
  }
  return registry.metrics();
}

describe('per-pod series', () => {
  it('are the lines prom-client writes for the same values, family by family (counters from their first count)', async () => {
    const source = pods(12);
    const ours = text(source);
    const theirs = await promClientText(source);
    // prom-client separates families by a blank line and ends with one newline; so does the text after
    // prom-client's own families.
    expect(ours).toBe(`\n${theirs}`);
    expect(
      metricSum(ours, 'vllm_router_cb_outcomes_total', { worker: 'http://10.0.0.3:8000', outcome: 'success' }),
    ).toBe(30);
    expect(ours).not.toContain('vllm_router_processed_requests_total{');
  });

  it('quote a worker label as the text format needs', () => {
    const counters = new PodCounters();
    const out = text([{ url: 'http://a"b\\c\nd', counters }]);
    expect(out).toContain('vllm_router_worker_health{worker="http://a\\"b\\\\c\\nd"} 1\n');
  });

  it('are written in steps of `step` pods, each step a chunk', () => {
    const source = pods(10);
    const chunks: string[] = [];
    const steps = podSeriesText(
      () => source,
      (c) => chunks.push(c),
      4,
    );
    let yields = 0;
    while (steps.next().done !== true) yields++;
    // Per family: a chunk and a yield after pods 4 and 8, then a chunk of the last 2 when they have lines.
    expect(yields).toBe(POD_FAMILIES.length * 2);
    expect(chunks.length).toBeGreaterThan(yields);
    expect(chunks.join('')).toBe(text(source));
  });
});

describe('GET /metrics at thousands of pods', () => {
  it('streams prom-client families and every pod of the registry, the same text as ProxyMetrics.text()', async () => {
    const metrics = new ProxyMetrics({ defaultMetrics: false });
    const registry = new PodRegistry({ config: HEALTH, metrics, logger: silentLogger });
    const urls = Array.from({ length: 3_000 }, (_, i) => `http://10.1.${i >> 8}.${i & 255}:8000`);
    registry.setMembers(urls);
    const busy = registry.get(urls[7] as string);
    registry.acquire(busy);
    const server = createServer((_req, res) => serveMetrics(metrics, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const res = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe(metrics.registry.contentType);
      const body = await res.body.text();
      expect(body).toBe(await metrics.text());
      expect(body).toContain('# TYPE vllm_router_active_workers gauge');
      expect(body.match(/^vllm_router_worker_health\{/gm)?.length).toBe(3_000);
      expect(metricSum(body, 'vllm_router_running_requests')).toBe(1);
      expect(metricSum(body, 'vllm_router_running_requests', { worker: urls[7] as string })).toBe(1);
    } finally {
      registry.release(busy);
      registry.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('a scraper that hangs up mid-body costs nothing: the server keeps answering', async () => {
    const metrics = new ProxyMetrics({ defaultMetrics: false });
    const registry = new PodRegistry({ config: HEALTH, metrics, logger: silentLogger });
    registry.setMembers(Array.from({ length: 5_000 }, (_, i) => `http://10.2.${i >> 8}.${i & 255}:8000`));
    const server = createServer((_req, res) => serveMetrics(metrics, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    try {
      const controller = new AbortController();
      const res = await request(url, { signal: controller.signal });
      controller.abort();
      await res.body.text().catch(() => undefined);
      const again = await request(url);
      expect(again.statusCode).toBe(200);
      expect((await again.body.text()).match(/^vllm_router_worker_health\{/gm)?.length).toBe(5_000);
    } finally {
      registry.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
