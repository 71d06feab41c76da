import { nowSeconds } from './store.ts';
import type { JsonObject, KubeObject } from './types.ts';

/** Labels and annotations shared by the fake's pods and the discovery service's defaults. */
export const ROLE_LABEL = 'llm-d.ai/role';
export const APP_LABEL = 'app.kubernetes.io/name';
export const APP_LABEL_VALUE = 'vllm';
export const PORT_ANNOTATION = 'vllm.ai/port';
export const BOOTSTRAP_PORT_ANNOTATION = 'vllm.ai/bootstrap-port';

export interface PodManifestOptions {
  name: string;
  /** Sets the `llm-d.ai/role` label. */
  role?: 'prefill' | 'decode' | 'plain' | 'both';
  namespace?: string;
  /** The pod's IP (status.podIP); default 127.0.0.1, where the simulated pods listen. */
  ip?: string;
  /**
   * The serving port: the container port `http` and the `vllm.ai/port` annotation (all simulated
   * pods share 127.0.0.1, so each pod's own port must travel with the pod).
   */
  port?: number;
  /** Adds the `vllm.ai/bootstrap-port` annotation. */
  bootstrapPort?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Default true: Running with Ready=True. false: Running, Ready=False. */
  ready?: boolean;
  /** Default 'Running'. 'Pending' leaves out podIP, as a real pending pod has none. */
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  image?: string;
}

/** A Pod as the kubelet would report it once started: what discovery reads to build membership. */
export function podManifest(options: PodManifestOptions): KubeObject {
  const labels: Record<string, string> = { [APP_LABEL]: APP_LABEL_VALUE };
  if (options.role) labels[ROLE_LABEL] = options.role;
  Object.assign(labels, options.labels);
  const annotations: Record<string, string> = {};
  if (options.port !== undefined) annotations[PORT_ANNOTATION] = String(options.port);
  if (options.bootstrapPort !== undefined) annotations[BOOTSTRAP_PORT_ANNOTATION] = String(options.bootstrapPort);
  Object.assign(annotations, options.annotations);
  const phase = options.phase ?? 'Running';
  const ready = (options.ready ?? true) && phase === 'Running';
  const container: JsonObject = { name: 'vllm', image: options.image ?? 'vllm/vllm-openai:latest' };
  if (options.port !== undefined) container.ports = [{ name: 'http', containerPort: options.port, protocol: 'TCP' }];
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: options.name,
      ...(options.namespace ? { namespace: options.namespace } : {}),
      labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
    },
    spec: { containers: [container], nodeName: 'fake-node', restartPolicy: 'Always' },
    status: runningStatus(phase, ready, options.ip ?? '127.0.0.1'),
  };
  return pod;
}

function runningStatus(phase: string, ready: boolean, ip: string): JsonObject {
  const now = nowSeconds();
  const status: JsonObject = { phase, conditions: readinessConditions(ready, now, undefined), qosClass: 'BestEffort' };
  if (phase !== 'Pending') {
    status.podIP = ip;
    status.podIPs = [{ ip }];
    status.hostIP = '127.0.0.1';
    status.startTime = now;
    status.containerStatuses = [
      {
        name: 'vllm',
        ready,
        started: phase === 'Running',
        restartCount: 0,
        image: 'vllm/vllm-openai:latest',
        imageID: '',
        state:
          phase === 'Running' ? { running: { startedAt: now } } : { terminated: { exitCode: 0, reason: 'Completed' } },
      },
    ];
  }
  return status;
}

/** The pod with Ready/ContainersReady flipped (transition times kept when nothing changes). */
export function withReadiness(pod: KubeObject, ready: boolean): KubeObject {
  const next = structuredClone(pod);
  const status = next.status ?? {};
  next.status = status;
  status.conditions = readinessConditions(ready, nowSeconds(), status.conditions);
  if (Array.isArray(status.containerStatuses)) {
    for (const c of status.containerStatuses as JsonObject[]) c.ready = ready;
  }
  return next;
}

function readinessConditions(ready: boolean, now: string, existing: unknown): JsonObject[] {
  const conditions = Array.isArray(existing) ? (structuredClone(existing) as JsonObject[]) : [];
  const set = (type: string, value: boolean) => {
    const status = value ? 'True' : 'False';
    const found = conditions.find((c) => c.type === type);
    if (found) {
      if (found.status !== status) found.lastTransitionTime = now;
      found.status = status;
    } else {
      conditions.push({ type, status, lastProbeTime: null, lastTransitionTime: now });
    }
  };
  set('Initialized', true);
  set('PodScheduled', true);
  set('ContainersReady', ready);
  set('Ready', ready);
  return conditions;
}

/** What a kubelet does to a freshly scheduled pod: Running, Ready, an IP. Used for pods created without status. */
export function startedByKubelet(pod: KubeObject, podIP: string): KubeObject {
  const next = structuredClone(pod);
  // The scheduler binds it to a node first (graceful deletion applies to scheduled pods only).
  next.spec = { ...next.spec, nodeName: next.spec?.nodeName ?? 'fake-node' };
  const base = runningStatus('Running', true, podIP);
  next.status = { ...base, ...next.status, phase: 'Running', podIP, podIPs: [{ ip: podIP }] };
  next.status.conditions = base.conditions;
  next.status.containerStatuses = base.containerStatuses;
  return next;
}
