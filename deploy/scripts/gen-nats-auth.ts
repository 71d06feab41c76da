// Generates the NATS operator, accounts and the two users' credentials for the snapshot bus.
//   node deploy/scripts/gen-nats-auth.ts [--namespace NS] [--bucket NAME]   -> three Secrets (YAML) on stdout
//   node deploy/scripts/gen-nats-auth.ts --out-dir DIR [--store-dir PATH]   -> nats.conf, discovery.creds, proxy.creds
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_BUCKET, generateNatsAuth } from '../src/nats-auth/generate.ts';
import { natsSecretsYaml } from '../src/nats-auth/secrets.ts';

let values: { namespace?: string; bucket?: string; 'out-dir'?: string; 'store-dir'?: string; help?: boolean };
try {
  values = parseArgs({
    options: {
      namespace: { type: 'string' },
      bucket: { type: 'string', default: DEFAULT_BUCKET },
      'out-dir': { type: 'string' },
      'store-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(
    'usage: node deploy/scripts/gen-nats-auth.ts [--namespace NS] [--bucket NAME] [--out-dir DIR [--store-dir PATH]]\n',
  );
  process.exit(0);
}
const auth = await generateNatsAuth({
  ...(values.bucket === undefined ? {} : { bucket: values.bucket }),
  ...(values['store-dir'] === undefined ? {} : { storeDir: values['store-dir'] }),
});
const outDir = values['out-dir'];
if (outDir === undefined) {
  process.stdout.write(natsSecretsYaml(auth, values.namespace));
} else {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'nats.conf'), auth.serverConfig, { mode: 0o600 });
  writeFileSync(join(outDir, 'discovery.creds'), auth.discoveryCreds, { mode: 0o600 });
  writeFileSync(join(outDir, 'proxy.creds'), auth.proxyCreds, { mode: 0o600 });
  process.stdout.write(`wrote ${outDir}/nats.conf, discovery.creds, proxy.creds\n`);
}
