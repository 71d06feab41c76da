// The Grafana dashboard is generated (scripts/gen-dashboard.ts) and only names metrics that exist.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDiscoveryMetrics } from '@pdrouter/discovery';
import { ProxyMetrics } from '@pdrouter/proxy';
import { describe, expect, it } from 'vitest';
import { buildDashboard, dashboardJson } from '../src/dashboard/grafana.ts';
import { metricNamesIn, metricsUsed } from '../src/dashboard/panels.ts';

const DASHBOARD_FILE = join(import.meta.dirname, '..', 'k8s', 'components', 'monitoring', 'pdrouter-dashboard.json');

/** Names vLLM's engines export (and packages/vllm-sim mirrors); scraped from the pods by the PodMonitor. */
const VLLM_METRICS = new Set([
  'vllm:generation_tokens_total',
  'vllm:prompt_tokens_total',
  'vllm:time_to_first_token_seconds',
]);

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

async function exportedNames(): Promise<Set<string>> {
  const proxy = new ProxyMetrics({ defaultMetrics: false }).families().map((m) => m.name);
  const discovery = (await createDiscoveryMetrics().registry.getMetricsAsJSON()).map((m) => m.name);
  return new Set([...proxy, ...discovery]);
}

describe('Grafana dashboard', () => {
  it('is checked in exactly as the generator writes it (run node deploy/scripts/gen-dashboard.ts)', () => {
    // Compared as data, so a JSON formatter run over the repository does not count as drift.
    expect(JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'))).toEqual(JSON.parse(dashboardJson()));
  });

  it('queries only metrics that the proxy, discovery or vLLM export', async () => {
    const known = await exportedNames();
    const used = metricsUsed();
    expect(used.length).toBeGreaterThan(10);
    for (const name of used) {
      const base = HISTOGRAM_SUFFIXES.reduce((n, s) => (n.endsWith(s) ? n.slice(0, -s.length) : n), name);
      expect(known.has(base) || VLLM_METRICS.has(base), name).toBe(true);
    }
  });

  it('covers tok/s, TTFT, in-flight per pod, failovers, snapshot age and fingerprints per replica', () => {
    const used = new Set(metricsUsed());
    for (const name of [
      'vllm:generation_tokens_total',
      'pdrouter_ttft_seconds_bucket',
      'vllm_router_running_requests',
      'pdrouter_failovers_total',
      'pdrouter_snapshot_age_seconds',
      'pdrouter_ring_info',
    ]) {
      expect(used.has(name), name).toBe(true);
    }
  });

  it('has unique panel ids inside the 24-column grid', () => {
    const panels = buildDashboard().panels as { id: number; gridPos: { x: number; w: number } }[];
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
  });

  it('finds metric names in PromQL', () => {
    expect(metricNamesIn('sum by (le) (rate(a_b_bucket{x="1"}[5m])) / time() - max(c:d{y="2"})')).toEqual([
      'a_b_bucket',
      'c:d',
    ]);
  });
});
