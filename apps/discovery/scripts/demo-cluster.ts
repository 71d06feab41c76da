// `pnpm demo:cluster`: the distributed deployment on local ports. nats-server, the Kubernetes API fake with
// 8+8 simulated vLLM pods (plus spares to scale up with), two discovery replicas and two proxy replicas.
// Writes a kubeconfig for the API fake, prints how to change pods with kubectl and how to compare both
// proxies' rings, then prints a line whenever a proxy moves to a new snapshot. Ctrl-C stops everything.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FlagSpec, parseScriptFlags } from '@pdrouter/cli';
import { type LocalCluster, type ProxyStateView, startLocalCluster } from './local-cluster.ts';

/** How often the demo compares the proxies' snapshots to print changes. */
const RING_POLL_INTERVAL_MS = 300;

const FLAGS = [
  { name: 'base-port', type: 'int', min: 1, max: 65_000, default: 21_500, help: 'First of the ports the demo uses.' },
  { name: 'prefill', type: 'int', min: 0, default: 8, help: 'Simulated prefill pods registered at start.' },
  { name: 'decode', type: 'int', min: 0, default: 8, help: 'Simulated decode pods registered at start.' },
  {
    name: 'spare',
    type: 'int',
    min: 0,
    default: 2,
    help: 'Spare pods per role, running but not registered (to scale up).',
  },
  { name: 'lease-duration-secs', type: 'int', min: 1, default: 5, help: "Discovery's leader Lease duration." },
] as const satisfies readonly FlagSpec[];
const values = parseScriptFlags(
  {
    program: 'pnpm demo:cluster',
    intro: [
      'Usage: pnpm demo:cluster [flags]',
      '',
      'Ports from --base-port B: NATS B, Kubernetes API fake B+1, readiness helper B+2, discovery B+10/B+11,',
      'proxies B+20 (metrics B+21) and B+22 (metrics B+23), simulated pods from B+100.',
    ],
  },
  FLAGS,
);
const base = values['base-port'];
const { prefill, decode, spare } = values;
const leaseSecs = values['lease-duration-secs'];

process.stdout.write(
  'starting nats-server, the Kubernetes API fake, the simulated pods, 2 discovery and 2 proxies...\n',
);
let cluster: LocalCluster;
try {
  cluster = await startLocalCluster({
    prefill,
    decode,
    sparePerRole: spare,
    leaseDurationSecs: leaseSecs,
    debounceMs: 250,
    heartbeatSecs: 10,
    ports: {
      natsPort: base,
      apiPort: base + 1,
      discoveryBasePort: base + 10,
      proxyBasePort: base + 20,
      simBasePort: base + 100,
    },
  });
} catch (err) {
  process.stderr.write(`error: the demo could not start: ${(err as Error).message}\n`);
  process.exit(1);
}

// Debian's kubectl 1.20 cannot patch the status subresource: this tiny helper flips readiness instead.
const helperPort = base + 2;
const helper = createServer((req, res) => {
  const m = /^\/pods\/([^/]+)\/(ready|unready)$/.exec(req.url ?? '');
  if (req.method !== 'POST' || !m) {
    res.writeHead(404).end('use POST /pods/NAME/ready or /pods/NAME/unready\n');
    return;
  }
  try {
    cluster.api.setPodReady(decodeURIComponent(m[1] as string), m[2] === 'ready');
    res.writeHead(200).end('ok\n');
  } catch (err) {
    res.writeHead(404).end(`${(err as Error).message}\n`);
  }
});
helper.listen(helperPort, '127.0.0.1');

const workDir = mkdtempSync(join(tmpdir(), 'pdrouter-demo-'));
const kubeconfig = join(workDir, 'kubeconfig');
cluster.api.writeKubeconfig(kubeconfig);
const registered = new Set(cluster.api.listPods().map((p) => p.metadata.name));
const spares = cluster.simPods.filter((p) => !registered.has(p.name));
const spareFiles = spares.map((p) => {
  const file = join(workDir, `${p.name}.yaml`);
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Pod',
      'metadata:',
      `  name: ${p.name}`,
      '  labels:',
      '    app.kubernetes.io/name: vllm',
      `    llm-d.ai/role: ${p.role}`,
      '  annotations:',
      `    vllm.ai/port: "${p.port}"`,
      'spec:',
      '  containers:',
      '    - name: vllm',
      '      image: vllm/vllm-openai:latest',
      '',
    ].join('\n'),
  );
  return file;
});

const [p0, p1] = cluster.proxies;
const natsSnapshot = `${cluster.nats.url}/default`;
const lines = [
  '',
  'pdrouter distributed demo is running.',
  '',
  `  NATS              ${cluster.nats.url}   (bucket pdrouter-snapshots, key default)`,
  `  Kubernetes API    ${cluster.api.url}   (namespace ${cluster.namespace})`,
  ...cluster.discoveries.map((d) => `  ${d.identity.padEnd(17)} ${d.url}/state   /metrics /readyz`),
  ...cluster.proxies.map(
    (p) => `  ${p.name.padEnd(17)} ${p.url}   admin ${p.url}/admin/state   metrics ${p.metricsUrl}`,
  ),
  `  simulated pods    ${cluster.simPods.length} (control ${cluster.simControl}/pods)`,
  '',
  `kubeconfig (${kubeconfig}):`,
  '',
  ...renderKubeconfig(kubeconfig),
  '',
  'Try, in another shell:',
  '',
  `  export KUBECONFIG=${kubeconfig}`,
  '  kubectl get pods -L llm-d.ai/role -w',
  `  kubectl create -f ${spareFiles[0] ?? '<pod.yaml>'}        # scale up (a running spare sim pod)`,
  '  kubectl delete pod decode-3 --wait=false                   # scale down: Terminating (leaves the rings at once), gone after 30 s',
  '  kubectl delete pod decode-2 --grace-period=3               # the same, gone after 3 s',
  `  kubectl --kubeconfig ${cluster.discoveryKubeconfig} get pod prefill-0   # discovery's own token: 403, its Role has no get`,
  '  kubectl patch pod prefill-2 --subresource=status --type=merge \\',
  `      -p '{"status":{"conditions":[{"type":"Ready","status":"False"}]}}'   # un-ready (kubectl >= 1.24)`,
  `  curl -X POST http://127.0.0.1:${helperPort}/pods/prefill-2/unready   # same without --subresource; /ready to undo`,
  '  kubectl get leases                                         # who leads discovery',
  '',
  'Compare both proxies (same fingerprint, same owner for the same key):',
  '',
  `  curl -s ${p0?.url}/admin/state | jq .snapshot`,
  `  curl -s ${p1?.url}/admin/state | jq .snapshot`,
  `  pnpm pdrouterctl explain --snapshot ${natsSnapshot} -H 'x-session-id: alice' --body '{"prompt":"hi"}'`,
  `  curl -s ${p0?.url}/v1/completions -H 'content-type: application/json' -H 'x-session-id: alice' \\`,
  `      -d '{"model":"meta-llama/Llama-3.1-8B-Instruct","prompt":"hi","max_tokens":8}'`,
  '',
  'Snapshot changes seen by each proxy are printed below. Ctrl-C stops everything.',
  '',
];
process.stdout.write(`${lines.join('\n')}\n`);

function renderKubeconfig(path: string): string[] {
  try {
    return readFileSync(path, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`);
  } catch {
    return [`  (see ${path})`];
  }
}

const seen = new Map<string, string>();
const poll = setInterval(async () => {
  for (const p of cluster.proxies) {
    let s: ProxyStateView;
    try {
      s = await p.adminState();
    } catch {
      continue;
    }
    const snap = s.snapshot;
    if (!snap || !s.rings) continue;
    const fp = `${snap.epoch}/${snap.fingerprint}`;
    if (seen.get(p.name) === fp) continue;
    seen.set(p.name, fp);
    process.stdout.write(
      `${new Date().toISOString()} ${p.name}: epoch ${snap.epoch} seq ${snap.seq} fingerprint ${snap.fingerprint} ` +
        `prefill ${s.rings.prefill.members.length} decode ${s.rings.decode.members.length}\n`,
    );
  }
}, RING_POLL_INTERVAL_MS);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(poll);
  process.stdout.write('stopping...\n');
  helper.close();
  await cluster.close();
  rmSync(workDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
