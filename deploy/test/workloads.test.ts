// Rules every workload in every kustomization must keep: pinned images, resources, a non-root and
// locked-down securityContext, selectors that match their own pods, Services that reach a pod port.
import { describe, expect, it } from 'vitest';
import {
  byKind,
  type Container,
  containerPort,
  EXAMPLES,
  KUSTOMIZATIONS,
  podLabelsOf,
  rendered,
  selects,
  type Workload,
  workloads,
} from './support/k8s.ts';

/** A tag that is a version (not latest, not empty) or a sha256 digest. */
function isPinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  if (colon === -1) return false;
  const tag = lastSegment.slice(colon + 1);
  return tag !== '' && tag !== 'latest' && /\d/.test(tag);
}

function allContainers(w: Workload): Container[] {
  return [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers];
}

describe.each([...KUSTOMIZATIONS, ...EXAMPLES])('%s', (name) => {
  it('renders workloads, and every one has a unique kind/name', async () => {
    const objects = await rendered(name);
    expect(workloads(objects).length).toBeGreaterThan(0);
    const keys = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('pins every image to a version tag or a digest', async () => {
    for (const w of workloads(await rendered(name))) {
      for (const c of allContainers(w))
        expect(isPinned(c.image), `${w.metadata.name}/${c.name}: ${c.image}`).toBe(true);
    }
  });

  it('gives every container cpu and memory requests and a memory limit', async () => {
    for (const w of workloads(await rendered(name))) {
      for (const c of allContainers(w)) {
        const where = `${w.metadata.name}/${c.name}`;
        expect(c.resources?.requests?.cpu, where).toBeDefined();
        expect(c.resources?.requests?.memory, where).toBeDefined();
        expect(c.resources?.limits?.memory, where).toBeDefined();
      }
    }
  });

  it('runs every container as non-root, without privilege escalation, with no capabilities', async () => {
    for (const w of workloads(await rendered(name))) {
      const pod = w.spec.template.spec.securityContext ?? {};
      for (const c of allContainers(w)) {
        const where = `${w.metadata.name}/${c.name}`;
        const sc = c.securityContext ?? {};
        const runAsNonRoot = sc.runAsNonRoot ?? pod.runAsNonRoot;
        const runAsUser = (sc.runAsUser ?? pod.runAsUser) as number | undefined;
        expect(runAsNonRoot, where).toBe(true);
        expect(runAsUser, where).toBeGreaterThan(0);
        expect(sc.allowPrivilegeEscalation, where).toBe(false);
        expect((sc.capabilities as { drop?: string[] } | undefined)?.drop, where).toEqual(['ALL']);
        expect(sc.privileged ?? false, where).toBe(false);
        const seccomp = (sc.seccompProfile ?? pod.seccompProfile) as { type?: string } | undefined;
        expect(seccomp?.type, where).toBe('RuntimeDefault');
      }
    }
  });

  it('selects its own pods: every workload selector matches its template labels', async () => {
    for (const w of workloads(await rendered(name))) {
      expect(selects(w.spec.selector.matchLabels, w.spec.template.metadata.labels), w.metadata.name).toBe(true);
    }
  });

  it('no two workloads select each other’s pods', async () => {
    const ws = workloads(await rendered(name));
    for (const a of ws) {
      for (const b of ws) {
        if (a === b) continue;
        const overlap = selects(a.spec.selector.matchLabels, b.spec.template.metadata.labels);
        expect(overlap, `${a.metadata.name} selects ${b.metadata.name}'s pods`).toBe(false);
      }
    }
  });

  it('routes every Service to pods that exist, on a port those pods declare', async () => {
    const objects = await rendered(name);
    const ws = workloads(objects);
    for (const svc of byKind<Workload>(objects, 'Service')) {
      const spec = svc.spec as unknown as {
        selector: Record<string, string>;
        ports: { name: string; port: number; targetPort: string | number }[];
      };
      const targets = ws.filter((w) => selects(spec.selector, w.spec.template.metadata.labels));
      expect(targets.length, `Service ${svc.metadata.name} selects no pods`).toBeGreaterThan(0);
      for (const port of spec.ports) {
        for (const w of targets) {
          const found = w.spec.template.spec.containers.some((c) => containerPort(c, port.targetPort) !== undefined);
          expect(found, `Service ${svc.metadata.name} port ${port.name} -> ${w.metadata.name}`).toBe(true);
        }
      }
    }
  });

  it('probes only ports the container declares', async () => {
    for (const w of workloads(await rendered(name))) {
      for (const c of w.spec.template.spec.containers) {
        for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
          if (!probe?.httpGet) continue;
          expect(
            containerPort(c, probe.httpGet.port),
            `${w.metadata.name}/${c.name} ${probe.httpGet.path}`,
          ).toBeDefined();
        }
      }
    }
  });

  it('mounts only volumes the pod defines', async () => {
    for (const w of workloads(await rendered(name))) {
      const claims = (w.spec as { volumeClaimTemplates?: { metadata: { name: string } }[] }).volumeClaimTemplates ?? [];
      const volumes = new Set([
        ...(w.spec.template.spec.volumes ?? []).map((v) => v.name),
        ...claims.map((t) => t.metadata.name),
      ]);
      for (const c of w.spec.template.spec.containers) {
        for (const m of c.volumeMounts ?? []) expect(volumes.has(m.name), `${w.metadata.name}: ${m.name}`).toBe(true);
      }
    }
  });

  it('has a NetworkPolicy for every pdrouter component, each selecting existing pods', async () => {
    const objects = await rendered(name);
    const policies = byKind(objects, 'NetworkPolicy');
    const labels = podLabelsOf(objects);
    // Every component the kustomization runs (the standalone example runs the proxy only).
    const running = ['proxy', 'discovery', 'nats'].filter((c) =>
      workloads(objects).some((w) => w.spec.template.metadata.labels['app.kubernetes.io/component'] === c),
    );
    expect(running).toContain('proxy');
    for (const component of running) {
      const policy = policies.find(
        (p) =>
          (p.spec as { podSelector: { matchLabels: Record<string, string> } }).podSelector.matchLabels[
            'app.kubernetes.io/component'
          ] === component,
      );
      if (!policy) throw new Error(`no NetworkPolicy for ${component}`);
      const selector = (policy.spec as { podSelector: { matchLabels: Record<string, string> } }).podSelector;
      expect(labels.some((l) => selects(selector.matchLabels, l))).toBe(true);
    }
  });
});
