import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KubeApiFake, podManifest, startKubeApiFake } from '../src/index.ts';
import { type Kubectl, kubectlFor } from '../src/kubectl.ts';
import { stopAllProcesses } from '../src/spawn-process.ts';
import { waitUntil } from '../src/wait.ts';

/**
 * The real kubectl against the fake: the discovery documents, Table output, watch streaming,
 * OpenAPI v3 lookup for create, status subresource patches and Status error messages must all be
 * close enough to a real API server for kubectl to work unmodified.
 */
describe('kubectl against the Kubernetes API fake', () => {
  let fake: KubeApiFake;
  let kubectl: Kubectl;
  beforeAll(async () => {
    fake = await startKubeApiFake({ namespace: 'pd', gracefulDeletion: true });
    kubectl = await kubectlFor(fake.kubeconfigPath);
    for (let i = 0; i < 2; i++) {
      fake.createPod(podManifest({ name: `prefill-${i}`, role: 'prefill', port: 8100 + i }));
      fake.createPod(podManifest({ name: `decode-${i}`, role: 'decode', port: 8200 + i }));
    }
  });
  afterAll(async () => {
    await stopAllProcesses('SIGKILL');
    kubectl?.close();
    await fake?.close();
  });

  it('gets pods as a table, by label, across namespaces and as JSON', async () => {
    const table = await kubectl.ok(['get', 'pods']);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    expect(table).toMatch(/prefill-0\s+1\/1\s+Running\s+0/);

    const prefill = await kubectl.ok(['get', 'pods', '-l', 'llm-d.ai/role=prefill', '-o', 'name']);
    expect(prefill.trim().split('\n')).toEqual(['pod/prefill-0', 'pod/prefill-1']);
    const notin = await kubectl.ok(['get', 'pods', '-l', 'llm-d.ai/role notin (prefill)', '-o', 'name']);
    expect(notin.trim().split('\n')).toEqual(['pod/decode-0', 'pod/decode-1']);

    const all = await kubectl.ok(['get', 'pods', '-A']);
    expect(all.split('\n')[0]).toMatch(/^NAMESPACE\s+NAME/);
    expect(all).toMatch(/pd\s+decode-0/);

    const json = JSON.parse(await kubectl.ok(['get', 'pods', '-o', 'json'])) as {
      items: { metadata: { name: string; annotations: Record<string, string> } }[];
    };
    expect(json.items.map((p) => p.metadata.name)).toEqual(['decode-0', 'decode-1', 'prefill-0', 'prefill-1']);
    expect(json.items[0]?.metadata.annotations['vllm.ai/port']).toBe('8200');

    const ip = await kubectl.ok(['get', 'pod', 'decode-1', '-o', 'jsonpath={.status.podIP}']);
    expect(ip).toBe('127.0.0.1');
  });

  it('reports a missing pod with the API server message', async () => {
    const r = await kubectl.run(['get', 'pod', 'missing']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('pods "missing" not found');
  });

  it('creates a pod from a file, labels it and deletes it (graceful: Terminating, then gone)', async () => {
    const file = join(fake.kubeconfigPath, '..', 'decode-9.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Pod',
        'metadata:',
        '  name: decode-9',
        '  labels: { llm-d.ai/role: decode }',
        '  annotations: { vllm.ai/port: "8209" }',
        'spec:',
        '  containers:',
        '  - name: vllm',
        '    image: vllm/vllm-openai:latest',
        '    ports: [{ containerPort: 8209, name: http }]',
        '',
      ].join('\n'),
    );
    expect(await kubectl.ok(['create', '-f', file])).toContain('pod/decode-9 created');
    // The simulated kubelet starts it: Running, Ready, with an IP.
    await waitUntil(() => fake.getPod('decode-9')?.status?.phase === 'Running', { description: 'decode-9 to run' });
    expect(fake.getPod('decode-9')?.status?.podIP).toBe('127.0.0.1');

    expect(await kubectl.ok(['label', 'pod', 'decode-9', 'canary=yes'])).toContain('pod/decode-9 labeled');
    expect(fake.getPod('decode-9')?.metadata.labels).toEqual({ 'llm-d.ai/role': 'decode', canary: 'yes' });
    expect(await kubectl.ok(['get', 'pods', '-l', 'canary', '-o', 'name'])).toBe('pod/decode-9\n');

    // --grace-period reaches the server: Terminating for 1 s (not the pod's default 30 s), then gone.
    expect(await kubectl.ok(['delete', 'pod', 'decode-9', '--grace-period=1', '--wait=false'])).toContain(
      'pod "decode-9" deleted',
    );
    expect(fake.getPod('decode-9')?.metadata).toMatchObject({ deletionGracePeriodSeconds: 1 });
    expect(fake.getPod('decode-9')?.metadata.deletionTimestamp).toBeDefined();
    await waitUntil(() => fake.getPod('decode-9') === undefined, { description: 'decode-9 to go after its grace' });
  });

  it('flips readiness through the status subresource', async () => {
    if (kubectl.supportsSubresource) {
      const patch = JSON.stringify({ status: { conditions: [{ type: 'Ready', status: 'False' }] } });
      expect(
        await kubectl.ok(['patch', 'pod', 'decode-1', '--subresource=status', '--type=merge', '-p', patch]),
      ).toContain('pod/decode-1 patched');
    } else {
      // kubectl < 1.24 has no --subresource: flip it through the fake itself.
      fake.setPodReady('decode-1', false);
    }
    const conditions = await kubectl.ok([
      'get',
      'pod',
      'decode-1',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);
    expect(conditions).toBe('False');
    fake.setPodReady('decode-1', true);
  });

  it('watches pods with -w and prints changes as they happen', async () => {
    const watch = await kubectl.spawn(['get', 'pods', '-w'], {
      readyLine: (l) => l.startsWith('prefill-1 '),
      timeoutMs: 20_000,
    });
    try {
      const from = watch.lines.length;
      fake.createPod(podManifest({ name: 'decode-5', role: 'decode', port: 8205 }));
      await watch.waitFor((l) => /^decode-5\s+1\/1\s+Running/.test(l), { stream: 'stdout', from, timeoutMs: 15_000 });
      fake.setPodReady('decode-5', false);
      await watch.waitFor((l) => /^decode-5\s+0\/1\s+Running/.test(l), { stream: 'stdout', from, timeoutMs: 15_000 });
      fake.markTerminating('decode-5');
      await watch.waitFor((l) => /^decode-5\s+0\/1\s+Terminating/.test(l), {
        stream: 'stdout',
        from,
        timeoutMs: 15_000,
      });
    } finally {
      await watch.stop();
      fake.deletePod('decode-5');
    }
  });

  it('creates and lists leases', async () => {
    const file = join(fake.kubeconfigPath, '..', 'lease.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: coordination.k8s.io/v1',
        'kind: Lease',
        'metadata: { name: pdrouter-discovery }',
        'spec: { holderIdentity: discovery-a, leaseDurationSeconds: 15 }',
        '',
      ].join('\n'),
    );
    expect(await kubectl.ok(['create', '-f', file])).toContain('lease.coordination.k8s.io/pdrouter-discovery created');
    const out = await kubectl.ok(['get', 'leases']);
    expect(out.split('\n')[0]).toMatch(/^NAME\s+HOLDER\s+AGE$/);
    expect(out).toMatch(/pdrouter-discovery\s+discovery-a/);
    expect(fake.getLease('pdrouter-discovery')?.spec?.holderIdentity).toBe('discovery-a');
  });
});

describe('kubectl that has no OpenAPI v3 (as before 1.27)', () => {
  it('creates from a file through the OpenAPI v2 document', async () => {
    const fake = await startKubeApiFake({ openApiV3: false });
    const kubectl = await kubectlFor(fake.kubeconfigPath);
    try {
      const file = join(fake.kubeconfigPath, '..', 'pod.yaml');
      writeFileSync(
        file,
        'apiVersion: v1\nkind: Pod\nmetadata: { name: old-client }\nspec: { containers: [{ name: c, image: i }] }\n',
      );
      expect(await kubectl.ok(['create', '-f', file])).toContain('pod/old-client created');
      expect(fake.requests().some((r) => r.path === '/openapi/v2')).toBe(true);
    } finally {
      kubectl.close();
      await fake.close();
    }
  });
});

describe('kubectlFor without the binary', () => {
  it('fails with a clear message instead of skipping', async () => {
    const saved = process.env.KUBECTL_BIN;
    process.env.KUBECTL_BIN = '/nonexistent/kubectl';
    try {
      await expect(kubectlFor('/dev/null')).rejects.toThrow(
        'kubectl not found on PATH: run scripts/ensure-system-deps.sh',
      );
    } finally {
      if (saved === undefined) delete process.env.KUBECTL_BIN;
      else process.env.KUBECTL_BIN = saved;
    }
  });
});
