// Discovery's objects: least-privilege RBAC, and selectors/ports that find the overlay's vLLM pods.

import { parseDiscoveryArgs } from '@pdrouter/discovery';
import { describe, expect, it } from 'vitest';
import {
  argValue,
  byKind,
  type Container,
  containerNamed,
  containerPort,
  find,
  KUSTOMIZATIONS,
  parseSelector,
  rendered,
  selects,
  type Workload,
  workloads,
} from './support/k8s.ts';

const DISCOVERY = 'pdrouter-discovery';

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

describe.each(KUSTOMIZATIONS)('%s: discovery', (name) => {
  it('runs 2 replicas in the base and the seed', async () => {
    const w = find<Workload>(await rendered(name), 'Deployment', DISCOVERY);
    expect(w.spec.replicas).toBe(name === 'overlays/dev' ? 1 : 2);
  });

  it('passes arguments discovery accepts (after the kubelet expands $(VAR) from the env)', async () => {
    const w = find<Workload>(await rendered(name), 'Deployment', DISCOVERY);
    const c = containerNamed(w, 'discovery');
    const env: Record<string, string> = { POD_NAMESPACE: w.metadata.namespace ?? 'default', POD_NAME: 'discovery-0' };
    const args = (c.args ?? []).map((a) => a.replace(/\$\(([A-Z_]+)\)/g, (_m, v: string) => env[v] ?? ''));
    for (const declared of c.env ?? []) expect(['POD_NAMESPACE', 'POD_NAME']).toContain(declared.name);
    const parsed = parseDiscoveryArgs(args, {});
    if (parsed.help) throw new Error('parsed as --help');
    expect(parsed.config.namespace).toBe(env.POD_NAMESPACE);
    expect(parsed.config.natsUrl).toBe('nats://pdrouter-nats:4222');
    expect(parsed.config.httpHost).toBe('0.0.0.0');
    expect(parsed.config.selectors.prefill).toBeDefined();
    expect(parsed.config.selectors.decode).toBeDefined();
  });

  it('may only list/watch pods, get/update its own Lease by name and create a Lease, nothing else', async () => {
    const objects = await rendered(name);
    expect(byKind(objects, 'ClusterRole')).toEqual([]);
    expect(byKind(objects, 'ClusterRoleBinding')).toEqual([]);
    const roles = byKind(objects, 'Role');
    expect(roles.map((r) => r.metadata.name)).toEqual([DISCOVERY]);
    const rules = (roles[0] as unknown as { rules: Rule[] }).rules;
    const grants = rules.flatMap((r) =>
      r.apiGroups.flatMap((g) =>
        r.resources.flatMap((res) =>
          r.verbs.map((v) => `${g || 'core'}/${res}${r.resourceNames ? `/${r.resourceNames.join(',')}` : ''}:${v}`),
        ),
      ),
    );
    // The Lease the deployment elects on is the one the Role names.
    const w = find<Workload>(objects, 'Deployment', DISCOVERY);
    const args = containerNamed(w, 'discovery').args ?? [];
    const leaseName = args[args.indexOf('--lease-name') + 1];
    expect(leaseName).toBe(DISCOVERY);
    expect(grants.sort()).toEqual(
      [
        'core/pods:list',
        'core/pods:watch',
        'coordination.k8s.io/leases:create',
        `coordination.k8s.io/leases/${leaseName}:get`,
        `coordination.k8s.io/leases/${leaseName}:update`,
      ].sort(),
    );
  });

  it('binds that Role to the ServiceAccount the discovery pods run as', async () => {
    const objects = await rendered(name);
    const w = find<Workload>(objects, 'Deployment', DISCOVERY);
    const sa = w.spec.template.spec.serviceAccountName;
    expect(sa).toBe(DISCOVERY);
    find(objects, 'ServiceAccount', DISCOVERY);
    const binding = find(objects, 'RoleBinding', DISCOVERY) as unknown as {
      roleRef: { kind: string; name: string };
      subjects: { kind: string; name: string; namespace?: string }[];
    };
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: DISCOVERY });
    expect(binding.subjects).toHaveLength(1);
    expect(binding.subjects[0]).toMatchObject({ kind: 'ServiceAccount', name: sa });
    // kustomize sets the subject's namespace with the overlay's; without one it stays the apply namespace.
    expect(binding.subjects[0]?.namespace).toBe(w.metadata.namespace);
  });

  it('serves /healthz, /readyz and /metrics on the port --http-port names', async () => {
    const c = containerNamed(find<Workload>(await rendered(name), 'Deployment', DISCOVERY), 'discovery');
    const httpPort = Number(argValue(c.args, 'http-port') ?? 9090);
    expect(containerPort(c, 'http')).toBe(httpPort);
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(containerPort(c, c.readinessProbe?.httpGet?.port ?? -1)).toBe(httpPort);
    expect(containerPort(c, c.livenessProbe?.httpGet?.port ?? -1)).toBe(httpPort);
    expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
  });

  it('publishes with the discovery NATS credentials, mounted where --nats-creds points', async () => {
    const w = find<Workload>(await rendered(name), 'Deployment', DISCOVERY);
    const c = containerNamed(w, 'discovery');
    expect(argValue(c.args, 'nats-url')).toBe('nats://pdrouter-nats:4222');
    const creds = argValue(c.args, 'nats-creds') ?? '';
    const mount = c.volumeMounts?.find((m) => creds.startsWith(`${m.mountPath}/`));
    const volume = w.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
    expect(volume?.secret?.secretName).toBe('pdrouter-nats-discovery');
  });

  it("finds exactly the overlay's prefill and decode pods, on the port each one serves", async () => {
    const objects = await rendered(name);
    const c = containerNamed(find<Workload>(objects, 'Deployment', DISCOVERY), 'discovery');
    const annotation = argValue(c.args, 'port-annotation') ?? 'vllm.ai/port';
    const targetPort = Number(argValue(c.args, 'target-port') ?? 8000);
    for (const role of ['prefill', 'decode'] as const) {
      const selector = parseSelector(argValue(c.args, `${role}-selector`) ?? '');
      const matched = workloads(objects).filter((w) => selects(selector, w.spec.template.metadata.labels));
      if (name === 'base') {
        expect(matched).toEqual([]); // the base ships no vLLM pods
        continue;
      }
      expect(matched.length, role).toBe(1);
      const pods = matched[0] as Workload;
      expect(pods.spec.template.metadata.labels['llm-d.ai/role']).toBe(role);
      const port = Number(pods.spec.template.metadata.annotations?.[annotation] ?? targetPort);
      const served = pods.spec.template.spec.containers[0] as Container;
      expect(containerPort(served, 'http')).toBe(port);
      expect(served.readinessProbe?.httpGet?.path).toBe('/health');
    }
  });
});
