// Regenerates docs/metrics.md and the READMEs' metrics sections from the apps' metric registries.
// Usage: node deploy/scripts/gen-metrics-docs.ts
import { createDiscoveryMetrics } from '@pdrouter/discovery';
import { ProxyMetrics } from '@pdrouter/proxy';
import { biomeFormat } from '../src/docs/biome-format.ts';
import { rewriteReadmeBlock, writeDoc } from '../src/docs/doc-files.ts';
import { definitionsOf, METRICS_DOC_PATH, metricsMarkdown } from '../src/docs/metrics-docs.ts';
import { PROXY_README_PATH, proxyReadmeMetrics, README_PATH, readmeSection } from '../src/docs/readme-blocks.ts';

const proxy = definitionsOf(new ProxyMetrics({ defaultMetrics: false }).families());
const discovery = definitionsOf(createDiscoveryMetrics().registry.getMetricsAsArray());
const doc = biomeFormat(metricsMarkdown(proxy, discovery), METRICS_DOC_PATH);
writeDoc(METRICS_DOC_PATH, doc);
rewriteReadmeBlock(README_PATH, 'metrics', readmeSection(doc));
rewriteReadmeBlock(PROXY_README_PATH, 'proxy-metrics', proxyReadmeMetrics(doc));
process.stdout.write(`wrote ${METRICS_DOC_PATH} and the metrics sections of ${README_PATH} and ${PROXY_README_PATH}\n`);
