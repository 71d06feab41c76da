/** The resource types the fake serves, described once for routing, discovery documents and storage. */

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  shortNames: string[];
  categories: string[];
  /** Has a /status subresource: updates of the main resource keep status, status updates keep the rest. */
  statusSubresource: boolean;
  /** Fields usable in fieldSelector (metadata.name and metadata.namespace are always supported). */
  fieldSelectors: string[];
  /**
   * An update (PUT) without metadata.resourceVersion is accepted (the type's strategy allows unconditional
   * updates: pods); false: refused with 422, as for leases.
   */
  unconditionalUpdate: boolean;
}

export const PODS: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'pods',
  singular: 'pod',
  kind: 'Pod',
  shortNames: ['po'],
  categories: ['all'],
  statusSubresource: true,
  unconditionalUpdate: true,
  fieldSelectors: [
    'metadata.name',
    'metadata.namespace',
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
};

export const LEASES: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  singular: 'lease',
  kind: 'Lease',
  shortNames: [],
  categories: [],
  statusSubresource: false,
  unconditionalUpdate: false,
  fieldSelectors: ['metadata.name', 'metadata.namespace'],
};

export const RESOURCES: readonly ResourceType[] = [PODS, LEASES];

export function apiVersionOf(r: ResourceType): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** Storage key of a resource type, e.g. `pods` or `leases.coordination.k8s.io`. */
export function resourceKey(r: ResourceType): string {
  return r.group ? `${r.plural}.${r.group}` : r.plural;
}

export const RESOURCE_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
export const STATUS_VERBS = ['get', 'patch', 'update'];
