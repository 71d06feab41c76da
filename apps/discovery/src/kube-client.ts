import { CoordinationV1Api, CoreV1Api, KubeConfig, type V1Lease, type V1Pod, Watch } from '@kubernetes/client-node';
import type { PodListWatch } from './pod-informer.ts';

/** Loads the kubeconfig file when given, else the in-cluster service-account configuration. */
export function loadKubeConfig(kubeconfigFile: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigFile !== undefined) kc.loadFromFile(kubeconfigFile);
  else kc.loadFromCluster();
  return kc;
}

export interface PodListWatchOptions {
  readonly namespace: string;
  readonly labelSelector: string;
  /** Asks the server to end each watch after this long (it is then resumed). */
  readonly watchTimeoutSecs: number;
}

/** List/watch of the pods matching one selector, over the real client (exactly what a cluster sees). */
export function podListWatch(kc: KubeConfig, options: PodListWatchOptions): PodListWatch {
  const core = kc.makeApiClient(CoreV1Api);
  const watcher = new Watch(kc);
  const path = `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/pods`;
  return {
    async list() {
      const list = await core.listNamespacedPod({ namespace: options.namespace, labelSelector: options.labelSelector });
      return { pods: list.items as V1Pod[], resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    async watch(resourceVersion, onEvent, onDone) {
      const controller = await watcher.watch(
        path,
        {
          labelSelector: options.labelSelector,
          resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds: options.watchTimeoutSecs,
        },
        (type, object) => onEvent(type, object),
        (err) => onDone(err ?? undefined),
      );
      return { abort: () => controller.abort() };
    },
  };
}

/** The Lease operations leader election needs; `undefined` from get() means the Lease does not exist. */
export interface LeaseClient {
  get(): Promise<V1Lease | undefined>;
  create(lease: V1Lease): Promise<V1Lease>;
  replace(lease: V1Lease): Promise<V1Lease>;
}

export function leaseClient(kc: KubeConfig, namespace: string, name: string): LeaseClient {
  const api = kc.makeApiClient(CoordinationV1Api);
  return {
    async get() {
      try {
        return await api.readNamespacedLease({ name, namespace });
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      }
    },
    create: (lease) => api.createNamespacedLease({ namespace, body: lease }),
    replace: (lease) => api.replaceNamespacedLease({ name, namespace, body: lease }),
  };
}
