// Generates the NATS operator, accounts and the two users' credentials for the snapshot bus.
//   node deploy/scripts/gen-nats-auth.ts [--namespace NS] [--bucket NAME]   -> three Secrets (YAML) on stdout
//   node deploy/scripts/gen-nats-auth.ts --out-dir DIR [--store-dir PATH]   -> nats.conf, discovery.creds, proxy.creds
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FlagSpec, parseScriptFlags } from '@pdrouter/cli';
import { DEFAULT_BUCKET, generateNatsAuth } from '../src/nats-auth/generate.ts';
import { natsSecretsYaml } from '../src/nats-auth/secrets.ts';

const FLAGS = [
  { name: 'namespace', type: 'string', valueName: 'NS', help: 'Namespace of the three Secrets (YAML on stdout).' },
  { name: 'bucket', type: 'string', valueName: 'NAME', default: DEFAULT_BUCKET, help: 'The snapshot KV bucket.' },
  {
    name: 'out-dir',
    type: 'string',
    valueName: 'DIR',
    help: 'Write nats.conf, discovery.creds and proxy.creds here instead of Secrets on stdout.',
  },
  { name: 'store-dir', type: 'string', valueName: 'PATH', help: "JetStream's store directory in nats.conf." },
] as const satisfies readonly FlagSpec[];
const values = parseScriptFlags(
  {
    program: 'node deploy/scripts/gen-nats-auth.ts',
    intro: [
      'Usage: node deploy/scripts/gen-nats-auth.ts [--namespace NS] [--bucket NAME] [--out-dir DIR [--store-dir PATH]]',
      'The NATS operator, accounts and the two users of the snapshot bus.',
    ],
  },
  FLAGS,
);
const auth = await generateNatsAuth({
  bucket: values.bucket,
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
