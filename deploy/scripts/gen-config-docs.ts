// Regenerates docs/configuration.md from the apps' flag tables. Usage: node deploy/scripts/gen-config-docs.ts
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DISCOVERY_FLAGS } from '../../apps/discovery/src/flags.ts';
import { PROXY_FLAGS } from '../../apps/proxy/src/flags.ts';
import { biomeFormat } from '../src/docs/biome-format.ts';
import { CONFIG_DOC_PATH, configurationMarkdown } from '../src/docs/config-docs.ts';

const target = join(import.meta.dirname, '..', '..', CONFIG_DOC_PATH);
writeFileSync(target, biomeFormat(configurationMarkdown(PROXY_FLAGS, DISCOVERY_FLAGS), CONFIG_DOC_PATH));
process.stdout.write(`wrote ${target}\n`);
