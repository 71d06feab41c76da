import { PODS, type ResourceType } from './resources.ts';
import { isJsonObject, type JsonObject, type KubeObject } from './types.ts';

/**
 * Server-side printing (meta.k8s.io/v1 Table), which `kubectl get` asks for with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`: the columns a real server prints for pods
 * and leases. https://kubernetes.io/docs/reference/using-api/api-concepts/#receiving-resources-as-tables
 */

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

const col = (name: string, type: string, description: string, priority = 0, format = ''): Column => ({
  name,
  type,
  format,
  description,
  priority,
});

const POD_COLUMNS: Column[] = [
  col('Name', 'string', 'Name must be unique within a namespace.', 0, 'name'),
  col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
  col('Status', 'string', 'The aggregate status of the containers in this pod.'),
  col('Restarts', 'string', 'The number of times the containers in this pod have been restarted.'),
  col('Age', 'string', 'CreationTimestamp of the object.'),
  col('IP', 'string', 'IP address allocated to the pod.', 1),
  col('Node', 'string', 'Name of the Node this pod is assigned to.', 1),
];

const LEASE_COLUMNS: Column[] = [
  col('Name', 'string', 'Name must be unique within a namespace.', 0, 'name'),
  col('Holder', 'string', 'The holder of the lease.'),
  col('Age', 'string', 'CreationTimestamp of the object.'),
];

export function renderTable(resource: ResourceType, objects: KubeObject[], listMeta: { resourceVersion: string }) {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: resource === PODS ? POD_COLUMNS : LEASE_COLUMNS,
    rows: objects.map((o) => row(resource, o)),
  };
}

/** A watch event's object in Table form: a one-row Table. */
export function renderTableRow(resource: ResourceType, obj: KubeObject) {
  return renderTable(resource, [obj], { resourceVersion: obj.metadata.resourceVersion ?? '' });
}

function row(resource: ResourceType, obj: KubeObject) {
  const cells = resource === PODS ? podCells(obj) : leaseCells(obj);
  // kubectl reads namespace and name for its own columns from the row's object metadata.
  return {
    cells,
    object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { ...obj.metadata } },
  };
}

function podCells(pod: KubeObject): unknown[] {
  const status = pod.status ?? {};
  const containers = Array.isArray(pod.spec?.containers) ? pod.spec.containers.length : 0;
  const statuses = Array.isArray(status.containerStatuses) ? (status.containerStatuses as JsonObject[]) : [];
  const ready = statuses.filter((c) => c.ready === true).length;
  const restarts = statuses.reduce((sum, c) => sum + (typeof c.restartCount === 'number' ? c.restartCount : 0), 0);
  let phase = typeof status.phase === 'string' ? status.phase : 'Unknown';
  const waiting = statuses
    .map((c) => (isJsonObject(c.state) && isJsonObject(c.state.waiting) ? c.state.waiting.reason : undefined))
    .find(Boolean);
  if (typeof waiting === 'string') phase = waiting;
  if (pod.metadata.deletionTimestamp) phase = 'Terminating';
  return [
    pod.metadata.name ?? '',
    `${ready}/${containers}`,
    phase,
    String(restarts),
    age(pod.metadata.creationTimestamp),
    typeof status.podIP === 'string' ? status.podIP : '<none>',
    typeof pod.spec?.nodeName === 'string' ? pod.spec.nodeName : '<none>',
  ];
}

function leaseCells(lease: KubeObject): unknown[] {
  const holder = lease.spec?.holderIdentity;
  return [lease.metadata.name ?? '', typeof holder === 'string' ? holder : '', age(lease.metadata.creationTimestamp)];
}

/** kubectl's short age format: 45s, 3m, 2h, 4d. */
function age(timestamp: string | undefined): string {
  if (!timestamp) return '<unknown>';
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}
