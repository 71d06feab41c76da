import { copyFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startKubeApiFake } from './kube-fake/fake.ts';

/**
 * The Kubernetes API fake as a process, for demos and manual kubectl sessions:
 *   node packages/testkit/src/kube-fake-main.ts --port 21001 --namespace pd --kubeconfig /tmp/pd.kubeconfig
 * Prints one JSON line {"event":"ready","url":...,"kubeconfig":...} once listening; stops on SIGTERM/SIGINT.
 */

const HELP = `Usage: kube-fake-main.ts [flags]
  --port N                    listen on 127.0.0.1:N (default 0: a random port)
  --namespace NS              the kubeconfig context's namespace (default "default")
  --kubeconfig PATH           also write the kubeconfig to PATH
  --token T                   bearer token (default: random)
  --pod-deletion-grace-ms MS  graceful pod deletion: Terminating for MS before removal (default 0)
  --watch-max-seconds S       the server ends watches after S seconds (default 60)
  --no-kubelet                pods created without a status stay Pending
  --help                      this text`;

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    namespace: { type: 'string', default: 'default' },
    kubeconfig: { type: 'string' },
    token: { type: 'string' },
    'pod-deletion-grace-ms': { type: 'string', default: '0' },
    'watch-max-seconds': { type: 'string', default: '60' },
    'no-kubelet': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});

if (values.help) {
  process.stdout.write(`${HELP}\n`);
  process.exit(0);
}

function nonNegativeInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`--${flag} must be a non-negative integer, got ${JSON.stringify(value)}\n`);
    process.exit(2);
  }
  return n;
}

const fake = await startKubeApiFake({
  port: nonNegativeInt('port', values.port),
  namespace: values.namespace,
  token: values.token,
  podDeletionGraceMs: nonNegativeInt('pod-deletion-grace-ms', values['pod-deletion-grace-ms']),
  watchMaxSeconds: Math.max(1, nonNegativeInt('watch-max-seconds', values['watch-max-seconds'])),
  kubelet: values['no-kubelet'] ? false : undefined,
});
let kubeconfig = fake.kubeconfigPath;
if (values.kubeconfig) {
  copyFileSync(fake.kubeconfigPath, values.kubeconfig);
  kubeconfig = values.kubeconfig;
}
process.stdout.write(`${JSON.stringify({ event: 'ready', url: fake.url, kubeconfig, namespace: fake.namespace })}\n`);

const shutdown = () => {
  void fake.close().then(() => process.exit(0));
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
