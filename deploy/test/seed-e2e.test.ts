// The seed overlay's wiring, run for real: the rendered discovery and proxy arguments, the generated NATS
// credentials, and pods carrying the overlay's vLLM pod labels and annotations (served by simulated
// engines, registered in the Kubernetes API fake). Only addresses change: 127.0.0.1, random ports, the
// fake's kubeconfig. Passing means the selectors find the pods, discovery's rendered Role lets it do its job
// (the fake enforces the overlay's Role and RoleBinding for the discovery ServiceAccount's token), discovery
// may publish, the proxies may read, and a request goes through.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type KubeApiFake,
  type NatsServer,
  podManifest,
  type SpawnedProcess,
  serviceAccountUser,
  spawnProcess,
  startKubeApiFake,
  startNatsServer,
  waitUntil,
} from '@pdrouter/testkit';
import { type SimFleet, startSimFleet } from '@pdrouter/vllm-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateNatsAuth } from '../src/nats-auth/generate.ts';
import { argValue, containerNamed, find, rendered, type Workload } from './support/k8s.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const NAMESPACE = 'llm-d-llama31';
/** Discovery lists, debounces (250 ms) and publishes; the proxy applies: seconds on a loaded machine. */
const CONVERGE_TIMEOUT_MS = 20_000;

/** Replaces the value after `--flag` (or appends the pair): the overrides this test is allowed. */
function withArgs(args: readonly string[], overrides: Record<string, string>): string[] {
  const out = [...args];
  for (const [flag, value] of Object.entries(overrides)) {
    const i = out.indexOf(`--${flag}`);
    if (i === -1) out.push(`--${flag}`, value);
    else out[i + 1] = value;
  }
  return out;
}

describe('overlays/seed end to end (API fake, nats-server, discovery, proxy, simulated pods)', () => {
  let dir: string;
  let fleet: SimFleet;
  let fake: KubeApiFake;
  let nats: NatsServer;
  let discovery: SpawnedProcess;
  let proxy: SpawnedProcess;
  let proxyUrl: string;

  beforeAll(async () => {
    const objects = await rendered('overlays/seed');
    const vllm = {
      prefill: find<Workload>(objects, 'Deployment', 'vllm-llama31-prefill'),
      decode: find<Workload>(objects, 'Deployment', 'vllm-llama31-decode'),
    };
    const discoveryDeployment = find<Workload>(objects, 'Deployment', 'pdrouter-discovery');
    const discoveryArgs = containerNamed(discoveryDeployment, 'discovery').args ?? [];
    const discoveryAccount = discoveryDeployment.spec.template.spec.serviceAccountName ?? 'default';
    const proxyArgs = containerNamed(find<Workload>(objects, 'Deployment', 'pdrouter-proxy'), 'proxy').args ?? [];
    const portAnnotation = argValue(discoveryArgs, 'port-annotation') ?? 'vllm.ai/port';

    dir = mkdtempSync(join(tmpdir(), 'pdrouter-seed-e2e-'));
    const auth = await generateNatsAuth({ storeDir: join(dir, 'store') });
    writeFileSync(join(dir, 'nats.conf'), auth.serverConfig);
    writeFileSync(join(dir, 'discovery.creds'), auth.discoveryCreds);
    writeFileSync(join(dir, 'proxy.creds'), auth.proxyCreds);
    nats = await startNatsServer({ jetstream: false, extraArgs: ['-c', join(dir, 'nats.conf'), '-m', '0'] });

    fleet = await startSimFleet({ prefill: vllm.prefill.spec.replicas ?? 0, decode: vllm.decode.spec.replicas ?? 0 });
    fake = await startKubeApiFake({ namespace: NAMESPACE, kubelet: false, rbac: objects });
    for (const role of ['prefill', 'decode'] as const) {
      const template = vllm[role].spec.template.metadata;
      for (const [i, sim] of fleet[role].entries()) {
        fake.createPod(
          podManifest({
            name: `${vllm[role].metadata.name}-${i}`,
            namespace: NAMESPACE,
            labels: template.labels,
            // Every simulated pod shares 127.0.0.1, so each carries its own port in the annotation.
            annotations: { ...template.annotations, [portAnnotation]: String(sim.port) },
            port: sim.port,
          }),
        );
      }
    }
    // Pods the selectors must leave out: another app with a role label, and a prefill pod not serving.
    fake.createPod(
      podManifest({ name: 'other-app', namespace: NAMESPACE, labels: { 'llm-d.ai/role': 'prefill' }, port: 1 }),
    );
    fake.createPod(
      podManifest({
        name: 'vllm-llama31-prefill-warming',
        namespace: NAMESPACE,
        labels: vllm.prefill.spec.template.metadata.labels,
        annotations: { [portAnnotation]: '2' },
        port: 2,
        ready: false,
      }),
    );

    const expand = (args: readonly string[]) => args.map((a) => a.replace('$(POD_NAMESPACE)', NAMESPACE));
    discovery = await spawnProcess(
      process.execPath,
      [
        'apps/discovery/src/main.ts',
        ...withArgs(expand(discoveryArgs), {
          'nats-url': nats.url,
          'nats-creds': join(dir, 'discovery.creds'),
          'http-host': '127.0.0.1',
          'http-port': '0',
          kubeconfig: fake.kubeconfigFor(serviceAccountUser(NAMESPACE, discoveryAccount)),
        }),
      ],
      {
        cwd: REPO,
        name: 'discovery',
        env: { PATH: process.env.PATH ?? '', POD_NAME: 'pdrouter-discovery-0' },
        readyLine: (l) => l.includes('"msg":"listening"'),
      },
    );
    proxy = await spawnProcess(
      process.execPath,
      [
        'apps/proxy/src/main.ts',
        ...withArgs(proxyArgs, {
          host: '127.0.0.1',
          port: '0',
          'prometheus-host': '127.0.0.1',
          'prometheus-port': '0',
          'nats-url': nats.url,
          'nats-creds': join(dir, 'proxy.creds'),
        }),
      ],
      {
        cwd: REPO,
        name: 'proxy',
        env: { PATH: process.env.PATH ?? '' },
        readyLine: (l) => l.includes('"msg":"listening"'),
      },
    );
    const listening = proxy.lines.find((l) => l.includes('"msg":"listening"')) ?? '';
    proxyUrl = String((JSON.parse(listening) as { url: string }).url);
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await discovery?.stop();
    await fleet?.close();
    await fake?.close();
    await nats?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('becomes ready with exactly the 8 prefill and 8 decode pods the overlay defines', async () => {
    await waitUntil(async () => (await fetch(`${proxyUrl}/readiness`)).status === 200 || undefined, {
      timeoutMs: CONVERGE_TIMEOUT_MS,
      description: `proxy readiness\n${proxy.output(20)}\n${discovery.output(20)}`,
    });
    const state = (await (await fetch(`${proxyUrl}/admin/state`)).json()) as {
      rings: Record<'prefill' | 'decode', { members: string[]; vnodes: number }>;
    };
    expect([...state.rings.prefill.members].sort()).toEqual(fleet.prefill.map((p) => p.url).sort());
    expect([...state.rings.decode.members].sort()).toEqual(fleet.decode.map((p) => p.url).sort());
    expect(state.rings.prefill.members).toHaveLength(8);
    expect(state.rings.prefill.vnodes).toBe(160);
  });

  it('serves a P/D completion through the rings', async () => {
    const response = await fetch(`${proxyUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'meta-llama/Llama-3.1-8B-Instruct',
        prompt: 'Explain what machine learning is in simple terms.',
        max_tokens: 8,
      }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { choices: { text: string }[] };
    expect(body.choices[0]?.text.length).toBeGreaterThan(0);
    const prefillLegs = fleet.prefill.reduce((n, p) => n + p.stats().prefillRequests, 0);
    const remoteHits = fleet.decode.reduce((n, p) => n + p.stats().remotePrefillHits, 0);
    expect(prefillLegs).toBe(1);
    expect(remoteHits).toBe(1);
  });
});
