// overlays/standalone: one proxy replica with vllm-router's --service-discovery flags, its ServiceAccount
// allowed exactly list and watch on pods. Checked as rendered, then run: the rendered arguments (addresses
// aside) against the Kubernetes API fake with pods labelled as the seed overlay's vLLM templates.
import { buildConfig, parseFlags } from '@pdrouter/proxy';
import {
  type KubeApiFake,
  podManifest,
  type SpawnedProcess,
  serviceAccountUser,
  spawnProcess,
  startKubeApiFake,
  waitUntil,
} from '@pdrouter/testkit';
import { type SimFleet, startSimFleet } from '@pdrouter/vllm-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argValue, byKind, containerNamed, find, rendered, selects, type Workload } from './support/k8s.ts';

const NAME = 'overlays/standalone';
const NAMESPACE = 'llm-d-llama31';
const PROXY = 'pdrouter-proxy';

const proxyArgs = async () => {
  const c = containerNamed(find<Workload>(await rendered(NAME), 'Deployment', PROXY), 'proxy');
  return (c.args ?? []).map((a) => a.replace('$(POD_NAMESPACE)', NAMESPACE));
};

/** `k=v,k2=v2` as labels. */
const labelsOf = (selector: string): Record<string, string> =>
  Object.fromEntries(selector.split(',').map((kv) => kv.split('=') as [string, string]));

describe(`${NAME} as rendered`, () => {
  it('holds the proxy, its Service, NetworkPolicy, ServiceAccount, Role and RoleBinding, and nothing of NATS or discovery', async () => {
    const objects = await rendered(NAME);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      [
        'Deployment/pdrouter-proxy',
        'NetworkPolicy/pdrouter-proxy',
        'Role/pdrouter-proxy',
        'RoleBinding/pdrouter-proxy',
        'Service/pdrouter-proxy',
        'ServiceAccount/pdrouter-proxy',
      ].sort(),
    );
    for (const o of objects) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(NAMESPACE);
  });

  it('runs one replica on --service-discovery with the seed pods’ selectors, in its own namespace', async () => {
    const parsed = parseFlags(await proxyArgs(), {});
    const config = buildConfig(parsed);
    expect(config.mode).toBe('pd');
    expect(config.membership).toMatchObject({ kind: 'kubernetes', namespace: NAMESPACE, port: 8000 });
    const w = find<Workload>(await rendered(NAME), 'Deployment', PROXY);
    expect(w.spec.replicas).toBe(1);
    const env = containerNamed(w, 'proxy').env as { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
    expect(env.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
    // The pods the seed overlay runs are the ones selected, and the same ones discovery selects in the base.
    const seed = await rendered('overlays/seed');
    const base = containerNamed(
      find<Workload>(await rendered('base'), 'Deployment', 'pdrouter-discovery'),
      'discovery',
    );
    if (config.membership.kind !== 'kubernetes') throw new Error('not kubernetes');
    for (const role of ['prefill', 'decode'] as const) {
      const selector = config.membership.selectors[role] as string;
      const template = find<Workload>(seed, 'Deployment', `vllm-llama31-${role}`).spec.template.metadata.labels;
      expect(selects(labelsOf(selector), template), role).toBe(true);
      expect(labelsOf(selector)).toEqual(labelsOf(argValue(base.args, `${role}-selector`) as string));
    }
  });

  it('lets the proxy list and watch pods and nothing else, with the token mounted and no NATS credentials', async () => {
    const objects = await rendered(NAME);
    expect((find(objects, 'Role', PROXY) as unknown as { rules: unknown[] }).rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
    ]);
    const binding = find(objects, 'RoleBinding', PROXY) as unknown as {
      roleRef: { kind: string; name: string };
      subjects: { kind: string; name: string }[];
    };
    const pod = find<Workload>(objects, 'Deployment', PROXY).spec.template.spec as {
      serviceAccountName?: string;
      automountServiceAccountToken?: boolean;
      volumes?: unknown[];
    };
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: PROXY });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: NAMESPACE }]);
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.volumes ?? []).toEqual([]);
    const ports = byKind(objects, 'NetworkPolicy').flatMap((p) =>
      (p.spec as { egress: { ports: { port: number }[] }[] }).egress.flatMap((e) => e.ports.map((x) => x.port)),
    );
    expect(ports).toEqual(expect.arrayContaining([443, 6443, 8000, 8200, 53]));
    expect(ports).not.toContain(4222);
  });
});

describe(`${NAME} run against the Kubernetes API fake`, () => {
  let fleet: SimFleet;
  let fake: KubeApiFake;
  let proxy: SpawnedProcess;
  let url: string;

  beforeAll(async () => {
    const seed = await rendered('overlays/seed');
    fleet = await startSimFleet({ prefill: 2, decode: 2 });
    // The overlay's Role and RoleBinding are enforced: the proxy runs as its ServiceAccount.
    const standalone = await rendered(NAME);
    const account = find<Workload>(standalone, 'Deployment', PROXY).spec.template.spec.serviceAccountName ?? 'default';
    fake = await startKubeApiFake({ namespace: NAMESPACE, kubelet: false, rbac: standalone });
    for (const role of ['prefill', 'decode'] as const) {
      const template = find<Workload>(seed, 'Deployment', `vllm-llama31-${role}`).spec.template.metadata;
      for (const [i, sim] of fleet[role].entries()) {
        fake.createPod(
          podManifest({
            name: `vllm-llama31-${role}-${i}`,
            namespace: NAMESPACE,
            labels: template.labels,
            annotations: { ...template.annotations, 'vllm.ai/port': String(sim.port) },
            port: sim.port,
          }),
        );
      }
    }
    const args = await proxyArgs();
    const at = (flag: string, value: string) => {
      args[args.indexOf(`--${flag}`) + 1] = value;
    };
    at('host', '127.0.0.1');
    at('port', '0');
    at('prometheus-host', '127.0.0.1');
    at('prometheus-port', '0');
    proxy = await spawnProcess(process.execPath, ['apps/proxy/src/main.ts', ...args], {
      cwd: `${import.meta.dirname}/../..`,
      name: 'proxy',
      env: { PATH: process.env.PATH ?? '', KUBECONFIG: fake.kubeconfigFor(serviceAccountUser(NAMESPACE, account)) },
      readyLine: (l) => l.includes('"msg":"listening"'),
    });
    url = (JSON.parse(proxy.lines.find((l) => l.includes('"msg":"listening"')) as string) as { url: string }).url;
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await fleet?.close();
    await fake?.close();
  });

  it('becomes ready on the labelled pods and serves a P/D completion', async () => {
    await waitUntil(async () => (await fetch(`${url}/readiness`)).status === 200 || undefined, {
      timeoutMs: 20_000,
      description: `readiness\n${proxy.output(20)}`,
    });
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'meta-llama/Llama-3.1-8B-Instruct', prompt: 'hi', max_tokens: 4 }),
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(fleet.prefill.reduce((n, p) => n + p.stats().prefillRequests, 0)).toBe(1);
  });
});
