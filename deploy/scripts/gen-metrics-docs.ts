// Regenerates docs/metrics.md and the READMEs' metrics sections from the apps' metric registries.
// Usage: node deploy/scripts/gen-metrics-docs.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDiscoveryMetrics } from '../../apps/discovery/src/metrics.ts';
import { ProxyMetrics } from '../../apps/proxy/src/metrics.ts';
import { biomeFormat } from '../src/docs/biome-format.ts';
import { definitionsOf, METRICS_DOC_PATH, metricsMarkdown } from '../src/docs/metrics-docs.ts';
import {
  PROXY_README_PATH,
  proxyReadmeMetrics,
  README_PATH,
  readmeSection,
  replaceReadmeBlock,
} from '../src/docs/readme-blocks.ts';

const root = join(import.meta.dirname, '..', '..');
const proxy = definitionsOf(new ProxyMetrics({ defaultMetrics: false }).registry.getMetricsAsArray());
const discovery = definitionsOf(createDiscoveryMetrics().registry.getMetricsAsArray());
const doc = biomeFormat(metricsMarkdown(proxy, discovery), METRICS_DOC_PATH);
writeFileSync(join(root, METRICS_DOC_PATH), doc);
const readme = join(root, README_PATH);
writeFileSync(readme, replaceReadmeBlock(readFileSync(readme, 'utf8'), 'metrics', readmeSection(doc)));
const proxyReadme = join(root, PROXY_README_PATH);
writeFileSync(
  proxyReadme,
  replaceReadmeBlock(readFileSync(proxyReadme, 'utf8'), 'proxy-metrics', proxyReadmeMetrics(doc), PROXY_README_PATH),
);
process.stdout.write(`wrote ${METRICS_DOC_PATH} and the metrics sections of ${README_PATH} and ${PROXY_README_PATH}\n`);
