// Regenerates docs/configuration.md and the READMEs' flags sections from the apps' flag tables.
// Usage: node deploy/scripts/gen-config-docs.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIM_FLAGS } from '@pdrouter/vllm-sim';
import { DISCOVERY_FLAGS } from '../../apps/discovery/src/flags.ts';
import { PROXY_FLAG_GROUPS } from '../../apps/proxy/src/flags.ts';
import { biomeFormat } from '../src/docs/biome-format.ts';
import { CONFIG_DOC_PATH, configurationMarkdown, simFlagsMarkdown } from '../src/docs/config-docs.ts';
import {
  PROXY_README_PATH,
  proxyReadmeFlags,
  README_PATH,
  readmeSection,
  replaceReadmeBlock,
  SIM_README_PATH,
} from '../src/docs/readme-blocks.ts';

const root = join(import.meta.dirname, '..', '..');
const doc = biomeFormat(configurationMarkdown(PROXY_FLAG_GROUPS, DISCOVERY_FLAGS), CONFIG_DOC_PATH);
writeFileSync(join(root, CONFIG_DOC_PATH), doc);
const readme = join(root, README_PATH);
writeFileSync(readme, replaceReadmeBlock(readFileSync(readme, 'utf8'), 'flags', readmeSection(doc)));
const proxyReadme = join(root, PROXY_README_PATH);
writeFileSync(
  proxyReadme,
  replaceReadmeBlock(readFileSync(proxyReadme, 'utf8'), 'proxy-flags', proxyReadmeFlags(doc), PROXY_README_PATH),
);
const simReadme = join(root, SIM_README_PATH);
const simFlags = biomeFormat(simFlagsMarkdown(SIM_FLAGS), SIM_README_PATH).trim();
writeFileSync(simReadme, replaceReadmeBlock(readFileSync(simReadme, 'utf8'), 'sim-flags', simFlags, SIM_README_PATH));
process.stdout.write(`wrote ${CONFIG_DOC_PATH} and the flags sections of the READMEs\n`);
