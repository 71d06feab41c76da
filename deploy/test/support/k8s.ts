// Helpers over rendered objects: typed-enough accessors so assertions read like the rule they check.
import { join } from 'node:path';
import { rendererPath } from '../../src/renderer/install.ts';
import { type K8sObject, render } from '../../src/renderer/render.ts';

export const K8S_DIR = join(import.meta.dirname, '..', '..', 'k8s');
export const KUSTOMIZATIONS = ['base', 'overlays/seed', 'overlays/dev'] as const;
/** Examples outside the distributed layout the KUSTOMIZATIONS tests check (tested on their own). */
export const EXAMPLES = ['overlays/standalone'] as const;
export type KustomizationName = (typeof KUSTOMIZATIONS)[number] | (typeof EXAMPLES)[number];

const cache = new Map<string, Promise<K8sObject[]>>();

/** Renders one kustomization with the pinned renderer (installed by the global setup), once per run. */
export function rendered(name: KustomizationName): Promise<K8sObject[]> {
  let objects = cache.get(name);
  if (!objects) {
    objects = render(rendererPath(), join(K8S_DIR, name));
    cache.set(name, objects);
  }
  return objects;
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: unknown; httpGet?: unknown } };
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
}

export interface PodSpec {
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  initContainers?: Container[];
  volumes?: { name: string; secret?: { secretName: string }; configMap?: { name: string } }[];
  topologySpreadConstraints?: { topologyKey: string; labelSelector?: { matchLabels?: Record<string, string> } }[];
}

export interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
  };
}

export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

export function workloads(objects: readonly K8sObject[]): Workload[] {
  return objects.filter((o) => WORKLOAD_KINDS.has(o.kind)) as Workload[];
}

export function find<T extends K8sObject = K8sObject>(objects: readonly K8sObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} not rendered`);
  return found as T;
}

export function byKind<T extends K8sObject = K8sObject>(objects: readonly K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

/** True when every key=value of the selector is among the labels (an empty selector matches nothing here). */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Parses an equality-based label selector string (`a=b,c=d`), the form the discovery flags take. */
export function parseSelector(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const match = /^\s*([^=!\s]+)\s*==?\s*([^=\s]*)\s*$/.exec(part);
    if (!match?.[1]) throw new Error(`not an equality selector: ${part}`);
    out[match[1]] = match[2] ?? '';
  }
  return out;
}

/** The value following `--name` (or given as `--name=value`) in an argument list. */
export function argValue(args: readonly string[] | undefined, name: string): string | undefined {
  if (!args) return undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === `--${name}`) return args[i + 1];
    if (a?.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

/** The container of that name in a workload's pod template; throws naming both when it is missing. */
export function containerNamed(w: Workload, name: string): Container {
  const c = w.spec.template.spec.containers.find((x) => x.name === name);
  if (!c) throw new Error(`${w.metadata.name}: no container ${name}`);
  return c;
}

export function containerPort(c: Container, port: string | number): number | undefined {
  if (typeof port === 'number') return c.ports?.some((p) => p.containerPort === port) ? port : undefined;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

export function podLabelsOf(objects: readonly K8sObject[]): Record<string, string>[] {
  return workloads(objects).map((w) => w.spec.template.metadata.labels);
}
