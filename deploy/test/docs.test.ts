// docs/configuration.md and docs/metrics.md are generated from the code; these fail when either drifts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlagSpec } from '@pdrouter/cli';
import { createDiscoveryMetrics, DISCOVERY_FLAGS } from '@pdrouter/discovery';
import { PROXY_FLAG_GROUPS, PROXY_FLAGS, ProxyMetrics } from '@pdrouter/proxy';
import { SIM_FLAGS } from '@pdrouter/vllm-sim';
import { describe, expect, it } from 'vitest';
import { biomeFormat } from '../src/docs/biome-format.ts';
import { CONFIG_DOC_PATH, configurationMarkdown, simFlagsMarkdown } from '../src/docs/config-docs.ts';
import { definitionsOf, METRICS_DOC_PATH, metricsMarkdown } from '../src/docs/metrics-docs.ts';
import {
  MIGRATING_PATH,
  migratingRefused,
  PROXY_README_PATH,
  proxyReadmeFlags,
  proxyReadmeMetrics,
  README_PATH,
  readmeBlock,
  readmeSection,
  SIM_README_PATH,
} from '../src/docs/readme-blocks.ts';

const REPO = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(REPO, path), 'utf8');

describe('generated docs', () => {
  it('docs/configuration.md matches PROXY_FLAGS and DISCOVERY_FLAGS (node deploy/scripts/gen-config-docs.ts)', () => {
    expect(read(CONFIG_DOC_PATH)).toBe(
      biomeFormat(configurationMarkdown(PROXY_FLAG_GROUPS, DISCOVERY_FLAGS), CONFIG_DOC_PATH),
    );
  });

  it('documents every flag of both apps, and no secret default', () => {
    const doc = read(CONFIG_DOC_PATH);
    for (const f of [...PROXY_FLAGS, ...DISCOVERY_FLAGS])
      expect(doc, f.name).toMatch(new RegExp(`^\\| \`--${f.name}\``, 'm'));
    const proxyFlags: readonly FlagSpec[] = PROXY_FLAGS;
    for (const f of proxyFlags.filter((x) => x.secret && typeof x.default === 'string')) {
      expect(doc).not.toContain(String(f.default));
    }
  });

  it('docs/metrics.md matches the proxy and discovery registries (node deploy/scripts/gen-metrics-docs.ts)', () => {
    const proxy = definitionsOf(new ProxyMetrics({ defaultMetrics: false }).families());
    const discovery = definitionsOf(createDiscoveryMetrics().registry.getMetricsAsArray());
    expect(proxy.length).toBeGreaterThan(20);
    expect(discovery.length).toBeGreaterThan(5);
    expect(read(METRICS_DOC_PATH)).toBe(biomeFormat(metricsMarkdown(proxy, discovery), METRICS_DOC_PATH));
  });

  it("the README's flags and metrics sections match the generated references", () => {
    const readme = read(README_PATH);
    expect(readmeBlock(readme, 'flags'), 'node deploy/scripts/gen-config-docs.ts').toBe(
      readmeSection(read(CONFIG_DOC_PATH)),
    );
    expect(readmeBlock(readme, 'metrics'), 'node deploy/scripts/gen-metrics-docs.ts').toBe(
      readmeSection(read(METRICS_DOC_PATH)),
    );
  });

  it('the migration guide lists every refused flag with its reason, as docs/configuration.md does', () => {
    const block = readmeBlock(read(MIGRATING_PATH), 'refused');
    expect(block, 'node deploy/scripts/gen-config-docs.ts').toBe(migratingRefused(read(CONFIG_DOC_PATH)));
    for (const f of PROXY_FLAG_GROUPS.refused) expect(block, f.name).toMatch(new RegExp(`^\\| \`--${f.name}\``, 'm'));
  });

  it("the simulator README's flag table matches SIM_FLAGS (node deploy/scripts/gen-config-docs.ts)", () => {
    expect(readmeBlock(read(SIM_README_PATH), 'sim-flags')).toBe(
      biomeFormat(simFlagsMarkdown(SIM_FLAGS), SIM_README_PATH).trim(),
    );
  });

  it("the proxy README's flags and metrics sections match the generated references", () => {
    const readme = read(PROXY_README_PATH);
    expect(readmeBlock(readme, 'proxy-flags'), 'node deploy/scripts/gen-config-docs.ts').toBe(
      proxyReadmeFlags(read(CONFIG_DOC_PATH)),
    );
    expect(readmeBlock(readme, 'proxy-metrics'), 'node deploy/scripts/gen-metrics-docs.ts').toBe(
      proxyReadmeMetrics(read(METRICS_DOC_PATH)),
    );
  });

  it('links only to files that exist', () => {
    for (const doc of [
      'architecture.md',
      'configuration.md',
      'metrics.md',
      'runbook.md',
      'migrating-from-vllm-router.md',
    ]) {
      const text = read(join('docs', doc));
      for (const m of text.matchAll(/\]\((?!https?:|#)([^)#]+)(#[^)]*)?\)/g)) {
        expect(() => readFileSync(join(REPO, 'docs', m[1] as string)), `${doc} -> ${m[1]}`).not.toThrow();
      }
    }
  });
});
