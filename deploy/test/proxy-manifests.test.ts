// The proxy's objects against the proxy's own flag table: the arguments parse, the ports and probes are
// the ones the app serves, and shutdown leaves time for the drain.

import { parseFlags } from '@pdrouter/proxy';
import { describe, expect, it } from 'vitest';
import {
  byKind,
  containerNamed,
  containerPort,
  find,
  KUSTOMIZATIONS,
  podLabelsOf,
  rendered,
  selects,
  type Workload,
  workloads,
} from './support/k8s.ts';

const PROXY = 'pdrouter-proxy';

describe.each(KUSTOMIZATIONS)('%s: proxy', (name) => {
  it('passes arguments the proxy accepts, in distributed P/D mode on 0.0.0.0', async () => {
    const c = containerNamed(find<Workload>(await rendered(name), 'Deployment', PROXY), 'proxy');
    const parsed = parseFlags(c.args ?? [], {});
    expect(parsed.values['pd-disaggregation']).toBe(true);
    expect(parsed.values.host).toBe('0.0.0.0');
    expect(parsed.values['prometheus-host']).toBe('0.0.0.0');
    expect(parsed.values['nats-url']).toMatch(/^nats:\/\/pdrouter-nats:4222$/);
    expect(parsed.values['nats-creds']).toBeDefined();
  });

  it('declares the ports it listens on (10001, metrics 29000) and probes /readiness and /liveness', async () => {
    const c = containerNamed(find<Workload>(await rendered(name), 'Deployment', PROXY), 'proxy');
    const values = parseFlags(c.args ?? [], {}).values;
    expect(values.port).toBe(10001);
    expect(values['prometheus-port']).toBe(29000);
    expect(containerPort(c, 'http')).toBe(values.port);
    expect(containerPort(c, 'metrics')).toBe(values['prometheus-port']);
    expect(c.readinessProbe?.httpGet?.path).toBe('/readiness');
    expect(containerPort(c, c.readinessProbe?.httpGet?.port ?? -1)).toBe(10001);
    expect(c.livenessProbe?.httpGet?.path).toBe('/liveness');
    expect(containerPort(c, c.livenessProbe?.httpGet?.port ?? -1)).toBe(10001);
  });

  it('gives the drain time to finish: terminationGracePeriodSeconds >= preStop + drain timeout', async () => {
    const w = find<Workload>(await rendered(name), 'Deployment', PROXY);
    const c = containerNamed(w, 'proxy');
    const drainSecs = parseFlags(c.args ?? [], {}).values['drain-timeout-secs'];
    const preStopSecs = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(drainSecs).toBeGreaterThan(0);
    expect(preStopSecs).toBeGreaterThan(0);
    expect(w.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStopSecs + drainSecs);
  });

  it('runs with a read-only root filesystem and no service-account token', async () => {
    const w = find<Workload>(await rendered(name), 'Deployment', PROXY);
    expect(containerNamed(w, 'proxy').securityContext?.readOnlyRootFilesystem).toBe(true);
    expect((w.spec.template.spec as { automountServiceAccountToken?: boolean }).automountServiceAccountToken).toBe(
      false,
    );
  });

  it('mounts the proxy NATS credentials at the path --nats-creds names', async () => {
    const w = find<Workload>(await rendered(name), 'Deployment', PROXY);
    const c = containerNamed(w, 'proxy');
    const creds = String(parseFlags(c.args ?? [], {}).values['nats-creds']);
    const mount = c.volumeMounts?.find((m) => creds.startsWith(`${m.mountPath}/`));
    const volume = w.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.secret?.secretName).toBe('pdrouter-nats-proxy');
  });

  it('has a PodDisruptionBudget and an HPA that target the proxy, and spreads it over nodes', async () => {
    const objects = await rendered(name);
    const w = find<Workload>(objects, 'Deployment', PROXY);
    const labels = w.spec.template.metadata.labels;
    const pdb = find(objects, 'PodDisruptionBudget', PROXY).spec as {
      selector: { matchLabels: Record<string, string> };
      maxUnavailable?: number;
    };
    expect(selects(pdb.selector.matchLabels, labels)).toBe(true);
    // Every PDB covers the pods of exactly one workload.
    for (const other of byKind(objects, 'PodDisruptionBudget')) {
      const sel = (other.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
      expect(
        workloads(objects).filter((x) => selects(sel, x.spec.template.metadata.labels)),
        other.metadata.name,
      ).toHaveLength(1);
    }
    expect(pdb.maxUnavailable).toBe(1);
    const hpas = byKind(objects, 'HorizontalPodAutoscaler');
    expect(hpas).toHaveLength(1);
    const hpa = hpas[0]?.spec as {
      scaleTargetRef: { kind: string; name: string };
      minReplicas: number;
      maxReplicas: number;
    };
    expect(hpa.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: PROXY });
    expect(hpa.minReplicas).toBeLessThanOrEqual(hpa.maxReplicas);
    expect(hpa.minReplicas).toBe(w.spec.replicas);
    const spread = w.spec.template.spec.topologySpreadConstraints ?? [];
    expect(spread.map((s) => s.topologyKey)).toContain('kubernetes.io/hostname');
    for (const s of spread) expect(selects(s.labelSelector?.matchLabels, labels)).toBe(true);
  });

  it('keeps /metrics off every Service: no Service in front of the proxy pods carries the metrics port', async () => {
    const objects = await rendered(name);
    const c = containerNamed(find<Workload>(objects, 'Deployment', PROXY), 'proxy');
    const metricsPort = containerPort(c, 'metrics');
    expect(metricsPort).toBe(29000);
    const proxyPods = find<Workload>(objects, 'Deployment', PROXY).spec.template.metadata.labels;
    const fronting = byKind(objects, 'Service').filter((svc) =>
      selects((svc.spec as { selector?: Record<string, string> }).selector, proxyPods),
    );
    expect(fronting.length).toBeGreaterThan(0);
    for (const svc of fronting) {
      const ports = (svc.spec as { ports: { port: number; targetPort?: string | number }[] }).ports;
      for (const p of ports) {
        expect(containerPort(c, p.targetPort ?? p.port), `${svc.metadata.name}:${p.port}`).toBe(10001);
      }
    }
  });

  it('admits only Prometheus pods of the monitoring namespace to the metrics port; clients to 10001', async () => {
    const policy = find(await rendered(name), 'NetworkPolicy', PROXY).spec as {
      ingress: { from?: Record<string, unknown>[]; ports: { port: number }[] }[];
    };
    const rulesFor = (port: number) => policy.ingress.filter((r) => r.ports.some((p) => p.port === port));
    const metrics = rulesFor(29000);
    expect(metrics).toHaveLength(1);
    // Both selectors in one peer: Prometheus pods *in* the monitoring namespace (two peers would admit either).
    expect(metrics[0]?.from).toEqual([
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
        podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
      },
    ]);
    expect(metrics[0]?.ports.map((p) => p.port)).toEqual([29000]);
    // The client port stays open to the cluster (no `from`), and shares no rule with the metrics port.
    expect(rulesFor(10001).map((r) => r.from)).toEqual([undefined]);
  });

  it('lets the proxy reach only vLLM pods, NATS and DNS', async () => {
    const objects = await rendered(name);
    const policy = find(objects, 'NetworkPolicy', PROXY).spec as {
      policyTypes: string[];
      ingress: { ports: { port: number }[] }[];
      egress: { to?: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[];
    };
    expect(policy.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.ingress.flatMap((r) => r.ports.map((p) => p.port)).sort()).toEqual([10001, 29000]);
    // Every egress rule names its peers: no rule open to any address.
    for (const rule of policy.egress) expect(rule.to?.length ?? 0).toBeGreaterThan(0);
    const nats = find<Workload>(objects, 'StatefulSet', 'pdrouter-nats').spec.template.metadata.labels;
    const peers = policy.egress.flatMap((r) => r.to ?? []).map((p) => p.podSelector?.matchLabels);
    expect(peers.some((s) => selects(s, nats))).toBe(true);
    expect(peers.some((s) => s?.['k8s-app'] === 'kube-dns')).toBe(true);
    // Every vLLM pod in the overlay is reachable on its serving port.
    const vllm = podLabelsOf(objects).filter((l) => l['llm-d.ai/inferenceServing'] === 'true');
    for (const labels of vllm) {
      expect(peers.some((s) => selects(s, labels))).toBe(true);
    }
  });
});
