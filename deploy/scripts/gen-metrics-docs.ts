// Regenerates docs/metrics.md from the apps' metric registries. Usage: node deploy/scripts/gen-metrics-docs.ts
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDiscoveryMetrics } from '../../apps/discovery/src/metrics.ts';
import { ProxyMetrics } from '../../apps/proxy/src/metrics.ts';
import { biomeFormat } from '../src/docs/biome-format.ts';
import { definitionsOf, METRICS_DOC_PATH, metricsMarkdown } from '../src/docs/metrics-docs.ts';

const proxy = definitionsOf(new ProxyMetrics({ defaultMetrics: false }).registry.getMetricsAsArray());
const discovery = definitionsOf(createDiscoveryMetrics().registry.getMetricsAsArray());
const target = join(import.meta.dirname, '..', '..', METRICS_DOC_PATH);
writeFileSync(target, biomeFormat(metricsMarkdown(proxy, discovery), METRICS_DOC_PATH));
process.stdout.write(`wrote ${target}\n`);
