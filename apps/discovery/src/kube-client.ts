import { CoordinationV1Api, KubeConfig, type V1Lease } from '@kubernetes/client-node';

/** Loads the kubeconfig file when given, else the in-cluster service-account configuration. */
export function loadKubeConfig(kubeconfigFile: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigFile !== undefined) kc.loadFromFile(kubeconfigFile);
  else kc.loadFromCluster();
  return kc;
}

/**
 * The configuration a Kubernetes client finds by itself (as kube-rs's Client::try_default, which vllm-router
 * uses, does): $KUBECONFIG, else ~/.kube/config, else the in-cluster service account.
 */
export function loadDefaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
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

/** The HTTP status of a client-node error (ApiException.code, or statusCode on a watch error). */
export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}
