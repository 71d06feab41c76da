import { copyFileSync } from 'node:fs';
import { type FlagSpec, flagParser, helpText, parseOrExit, UsageError } from '@pdrouter/cli';
import { startKubeApiFake, WATCH_MAX_SECONDS } from './kube-fake/fake.ts';
import { readManifests } from './kube-fake/manifests.ts';

/**
 * The Kubernetes API fake as a process, for demos and manual kubectl sessions:
 *   node packages/testkit/src/kube-fake-main.ts --port 21001 --namespace pd --kubeconfig /tmp/pd.kubeconfig \
 *     --rbac deploy/k8s/base/discovery/role.yaml --rbac deploy/k8s/base/discovery/role-binding.yaml
 * Prints one JSON line {"event":"ready","url":...,"kubeconfig":...,"kubeconfigs":{user:path}} once
 * listening; stops on SIGTERM/SIGINT.
 */

const FLAGS = [
  { name: 'port', type: 'int', default: 0, min: 0, max: 65535, help: 'Listen on 127.0.0.1:N (0: a random free port).' },
  { name: 'namespace', type: 'string', default: 'default', valueName: 'NS', help: "The kubeconfigs' namespace." },
  { name: 'kubeconfig', type: 'string', valueName: 'PATH', help: "Also write the cluster admin's kubeconfig to PATH." },
  { name: 'token', type: 'string', secret: true, help: "The cluster admin's bearer token (default: random)." },
  {
    name: 'rbac',
    type: 'repeat',
    valueName: 'FILE',
    help: 'YAML with Role/RoleBinding/ClusterRole/ClusterRoleBinding objects; each subject gets a token and a kubeconfig (in the ready line).',
  },
  {
    name: 'graceful-deletion',
    type: 'bool',
    default: true,
    help: 'A pod DELETE sets deletionTimestamp and removes the pod after its grace period (--graceful-deletion=false: at once).',
  },
  {
    name: 'watch-max-seconds',
    type: 'int',
    default: WATCH_MAX_SECONDS,
    min: 1,
    help: 'The server ends every watch after this long.',
  },
  {
    name: 'kubelet',
    type: 'bool',
    default: true,
    help: 'Simulate a kubelet: pods created without a status start (Running, Ready).',
  },
  { name: 'help', type: 'bool', default: false, help: 'Print this help and exit.' },
] as const satisfies readonly FlagSpec[];

const parser = flagParser(FLAGS);
const v = parseOrExit('kube-fake', () => {
  const { values } = parser.parse(process.argv.slice(2));
  for (const file of values.rbac) {
    try {
      readManifests(file);
    } catch (err) {
      throw new UsageError(`--rbac ${file}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return values;
});
if (v.help) {
  process.stdout.write(
    helpText(['Usage: node packages/testkit/src/kube-fake-main.ts [flags]', ''], [{ title: 'Flags:', flags: FLAGS }]),
  );
  process.exit(0);
}

const fake = await startKubeApiFake({
  port: v.port,
  namespace: v.namespace,
  ...(v.token === undefined ? {} : { token: v.token }),
  rbac: readManifests(...v.rbac),
  gracefulDeletion: v['graceful-deletion'],
  watchMaxSeconds: v['watch-max-seconds'],
  ...(v.kubelet ? {} : { kubelet: false }),
});
let kubeconfig = fake.kubeconfigPath;
if (v.kubeconfig !== undefined) {
  copyFileSync(fake.kubeconfigPath, v.kubeconfig);
  kubeconfig = v.kubeconfig;
}
const kubeconfigs = Object.fromEntries(fake.users().map((u) => [u, fake.kubeconfigFor(u)]));
process.stdout.write(
  `${JSON.stringify({ event: 'ready', url: fake.url, kubeconfig, kubeconfigs, namespace: fake.namespace })}\n`,
);

const shutdown = () => {
  void fake.close().then(() => process.exit(0));
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
