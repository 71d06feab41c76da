// The seed overlay reproduces the seed deployment: namespace, service address, 8 + 8 Llama-3.1-8B pods
// with the NixlConnector, one GPU each, ports 8000 / 8200.
import { describe, expect, it } from 'vitest';
import {
  argValue,
  byKind,
  containerNamed,
  containerPort,
  find,
  rendered,
  selects,
  type Workload,
  workloads,
} from './support/k8s.ts';

const NAMESPACE = 'llm-d-llama31';
const NIXL = '{"kv_connector":"NixlConnector","kv_role":"kv_both"}';
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);

describe('overlays/seed', () => {
  it('puts every namespaced object in llm-d-llama31', async () => {
    for (const o of await rendered('overlays/seed')) {
      if (CLUSTER_SCOPED.has(o.kind)) continue;
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(NAMESPACE);
    }
  });

  it('keeps the seed endpoint vllm-router-llama31:10001 on the proxy pods (metrics 29000 on the pods only)', async () => {
    const objects = await rendered('overlays/seed');
    const svc = find(objects, 'Service', 'vllm-router-llama31').spec as {
      selector: Record<string, string>;
      ports: { name: string; port: number }[];
    };
    expect(svc.ports.map((p) => p.port)).toEqual([10001]);
    expect(
      containerPort(containerNamed(find<Workload>(objects, 'Deployment', 'pdrouter-proxy'), 'proxy'), 'metrics'),
    ).toBe(29000);
    const proxy = find<Workload>(objects, 'Deployment', 'pdrouter-proxy');
    expect(selects(svc.selector, proxy.spec.template.metadata.labels)).toBe(true);
    expect(objects.some((o) => o.kind === 'Service' && o.metadata.name === 'pdrouter-proxy')).toBe(false);
  });

  for (const [role, port] of [
    ['prefill', 8000],
    ['decode', 8200],
  ] as const) {
    it(`runs 8 ${role} pods of Llama-3.1-8B-Instruct with the NixlConnector on port ${port}, one GPU each`, async () => {
      const w = find<Workload>(await rendered('overlays/seed'), 'Deployment', `vllm-llama31-${role}`);
      expect(w.spec.replicas).toBe(8);
      const c = w.spec.template.spec.containers[0];
      expect(c?.args?.[0]).toBe('meta-llama/Llama-3.1-8B-Instruct');
      expect(argValue(c?.args, 'kv-transfer-config')).toBe(NIXL);
      expect(Number(argValue(c?.args, 'port'))).toBe(port);
      expect(c && containerPort(c, 'http')).toBe(port);
      expect(c?.resources?.limits?.['nvidia.com/gpu']).toBe('1');
      expect(c?.resources?.requests?.['nvidia.com/gpu']).toBe('1');
      expect(c?.readinessProbe?.httpGet).toMatchObject({ path: '/health', port: 'http' });
      expect(w.spec.template.metadata.annotations?.['vllm.ai/port']).toBe(String(port));
    });
  }

  it('scrapes the proxy pods with a PodMonitor, discovery with a ServiceMonitor, and ships the Grafana dashboard', async () => {
    const objects = await rendered('overlays/seed');
    const services = byKind(objects, 'Service');
    for (const monitor of byKind(objects, 'ServiceMonitor')) {
      const spec = monitor.spec as { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] };
      const targets = services.filter((s) => selects(spec.selector.matchLabels, s.metadata.labels));
      expect(targets.length, monitor.metadata.name).toBe(1);
      const ports = ((targets[0]?.spec ?? { ports: [] }) as { ports: { name: string }[] }).ports.map((p) => p.name);
      for (const e of spec.endpoints) expect(ports).toContain(e.port);
    }
    expect(byKind(objects, 'ServiceMonitor').map((m) => m.metadata.name)).toEqual(['pdrouter-discovery']);
    const proxyMonitor = find(objects, 'PodMonitor', 'pdrouter-proxy').spec as {
      selector: { matchLabels: Record<string, string> };
      podMetricsEndpoints: { port: string; path: string }[];
    };
    const proxy = find<Workload>(objects, 'Deployment', 'pdrouter-proxy');
    expect(selects(proxyMonitor.selector.matchLabels, proxy.spec.template.metadata.labels)).toBe(true);
    // Only the proxy's pods: the vLLM pods have their own PodMonitor.
    for (const w of workloads(objects).filter((x) => x !== proxy)) {
      expect(selects(proxyMonitor.selector.matchLabels, w.spec.template.metadata.labels), w.metadata.name).toBe(false);
    }
    expect(proxyMonitor.podMetricsEndpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    expect(containerPort(containerNamed(proxy, 'proxy'), 'metrics')).toBe(29000);
    const dashboard = find(objects, 'ConfigMap', 'pdrouter-grafana-dashboard');
    expect(dashboard.metadata.labels?.grafana_dashboard).toBe('1');
    const json = JSON.parse((dashboard.data as Record<string, string>)['pdrouter-dashboard.json'] ?? '');
    expect(json.title).toBe('pdrouter');
  });
});
