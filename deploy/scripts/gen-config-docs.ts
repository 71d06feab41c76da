// Regenerates docs/configuration.md and the READMEs' flags sections from the apps' flag tables.
// Usage: node deploy/scripts/gen-config-docs.ts
import { DISCOVERY_FLAGS } from '@pdrouter/discovery';
import { PROXY_FLAG_GROUPS } from '@pdrouter/proxy';
import { SIM_FLAGS } from '@pdrouter/vllm-sim';
import { biomeFormat } from '../src/docs/biome-format.ts';
import { CONFIG_DOC_PATH, configurationMarkdown, simFlagsMarkdown } from '../src/docs/config-docs.ts';
import { rewriteReadmeBlock, writeDoc } from '../src/docs/doc-files.ts';
import {
  MIGRATING_PATH,
  migratingRefused,
  PROXY_README_PATH,
  proxyReadmeFlags,
  README_PATH,
  readmeSection,
  SIM_README_PATH,
} from '../src/docs/readme-blocks.ts';

const doc = biomeFormat(configurationMarkdown(PROXY_FLAG_GROUPS, DISCOVERY_FLAGS), CONFIG_DOC_PATH);
writeDoc(CONFIG_DOC_PATH, doc);
rewriteReadmeBlock(README_PATH, 'flags', readmeSection(doc));
rewriteReadmeBlock(PROXY_README_PATH, 'proxy-flags', proxyReadmeFlags(doc));
rewriteReadmeBlock(MIGRATING_PATH, 'refused', migratingRefused(doc));
rewriteReadmeBlock(SIM_README_PATH, 'sim-flags', biomeFormat(simFlagsMarkdown(SIM_FLAGS), SIM_README_PATH).trim());
process.stdout.write(
  `wrote ${CONFIG_DOC_PATH}, the flags sections of ${README_PATH}, ${PROXY_README_PATH} and ${SIM_README_PATH}, and the refused flags of ${MIGRATING_PATH}\n`,
);
