import { randomBytes, randomUUID } from 'node:crypto';
import { apiVersionOf, type ResourceType, resourceKey } from './resources.ts';
import { alreadyExists, conflict, expired, invalid, notFound } from './status.ts';
import type { KubeObject, WatchEventType } from './types.ts';
import { resourceVersionRequired, validateObject } from './validation.ts';

/**
 * The fake's etcd: objects of every resource type, one cluster-wide resourceVersion counter that
 * increases on every write (as etcd's revision does), and the history of changes that watches replay
 * from a resourceVersion. compact() forgets history so that watches asking for older versions get
 * 410 Gone, as after an etcd compaction.
 */

export interface StoreEvent {
  rv: number;
  type: WatchEventType;
  resource: ResourceType;
  /** The object before the change (MODIFIED and DELETED). */
  previous: KubeObject | undefined;
  /** The object after the change; for DELETED the last state, carrying the deletion's resourceVersion. */
  object: KubeObject;
}

export type StoreListener = (event: StoreEvent) => void;

/** First resourceVersion handed out: arbitrary, non-zero, so "0" keeps its "any version" meaning. */
const INITIAL_RESOURCE_VERSION = 1000;
/** Older history is compacted automatically so a long demo cannot grow memory without bound. */
export const HISTORY_LIMIT_EVENTS = 10_000;

export interface UpdateOptions {
  /** Which part an update may change: the main resource keeps status, the status subresource keeps the rest. */
  subresource?: 'status';
}

export class ObjectStore {
  #rv = INITIAL_RESOURCE_VERSION;
  /** Watches from a resourceVersion below this cannot be served: the events after it were compacted. */
  #oldestRv = INITIAL_RESOURCE_VERSION;
  readonly #objects = new Map<string, Map<string, KubeObject>>();
  #history: StoreEvent[] = [];
  readonly #listeners = new Set<StoreListener>();
  readonly #historyLimit: number;

  /** `historyLimit`: changes kept for watches to replay (the watch cache's window); older ones are compacted. */
  constructor(historyLimit: number = HISTORY_LIMIT_EVENTS) {
    this.#historyLimit = historyLimit;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  get oldestResourceVersion(): number {
    return this.#oldestRv;
  }

  get(resource: ResourceType, namespace: string, name: string): KubeObject | undefined {
    const obj = this.#bucket(resource).get(objectKey(namespace, name));
    return obj ? structuredClone(obj) : undefined;
  }

  mustGet(resource: ResourceType, namespace: string, name: string): KubeObject {
    const obj = this.get(resource, namespace, name);
    if (!obj) throw notFound(resource.plural, resource.group, name);
    return obj;
  }

  /** Objects sorted by namespace then name (the real server's order); namespace undefined = all. */
  list(resource: ResourceType, namespace?: string): KubeObject[] {
    return sortedClones([...this.#bucket(resource).values()], namespace);
  }

  /**
   * The objects as they were at resourceVersion `rv` (what etcd serves for a paginated list's later
   * pages): the current state with the changes after `rv` undone. 410 Expired once they were compacted.
   */
  listAt(resource: ResourceType, rv: number, namespace?: string): KubeObject[] {
    if (rv >= this.#rv) return this.list(resource, namespace);
    if (rv < this.#oldestRv) throw expired(rv, this.#oldestRv);
    const state = new Map(this.#bucket(resource));
    const key = resourceKey(resource);
    for (let i = this.#history.length - 1; i >= 0; i--) {
      const e = this.#history[i];
      if (e === undefined || e.rv <= rv) break;
      if (resourceKey(e.resource) !== key) continue;
      const k = objectKey(e.object.metadata.namespace, e.object.metadata.name);
      if (e.type === 'ADDED' || e.previous === undefined) state.delete(k);
      else state.set(k, e.previous);
    }
    return sortedClones([...state.values()], namespace);
  }

  create(resource: ResourceType, namespace: string, input: KubeObject): KubeObject {
    const meta = input.metadata ?? {};
    let name = meta.name;
    if (!name && meta.generateName) name = `${meta.generateName}${randomSuffix()}`;
    if (!name) throw invalid(resource.kind, '', 'metadata.name: Required value: name or generateName is required');
    validateName(resource, name);
    const bucket = this.#bucket(resource);
    const key = objectKey(namespace, name);
    if (bucket.has(key)) throw alreadyExists(resource.plural, resource.group, name);
    const rv = ++this.#rv;
    const obj: KubeObject = {
      ...structuredClone(input),
      apiVersion: apiVersionOf(resource),
      kind: resource.kind,
      metadata: {
        ...structuredClone(meta),
        name,
        namespace,
        uid: randomUUID(),
        resourceVersion: String(rv),
        creationTimestamp: nowSeconds(),
      },
    };
    if (resource.statusSubresource) obj.metadata.generation = 1;
    delete obj.metadata.deletionTimestamp;
    delete obj.metadata.deletionGracePeriodSeconds;
    // A new pod is Pending until a kubelet reports otherwise (the real server's create strategy).
    if (resource.statusSubresource && typeof obj.status?.phase !== 'string')
      obj.status = { ...obj.status, phase: 'Pending' };
    validateObject(resource, obj);
    bucket.set(key, obj);
    this.#emit({ rv, type: 'ADDED', resource, previous: undefined, object: obj });
    return structuredClone(obj);
  }

  /**
   * Replaces an object. A non-empty metadata.resourceVersion in `input` must equal the stored one
   * (optimistic concurrency, 409 Conflict otherwise); an empty one updates unconditionally where the
   * type allows it (pods) and is 422 where it does not (leases), as on the real server. Writing identical
   * content is a no-op (no new version).
   */
  update(
    resource: ResourceType,
    namespace: string,
    name: string,
    input: KubeObject,
    options: UpdateOptions = {},
  ): KubeObject {
    const bucket = this.#bucket(resource);
    const key = objectKey(namespace, name);
    const current = bucket.get(key);
    if (!current) throw notFound(resource.plural, resource.group, name);
    const inputMeta = input.metadata ?? {};
    if (inputMeta.name !== undefined && inputMeta.name !== name) {
      throw invalid(resource.kind, name, `metadata.name: Invalid value: "${inputMeta.name}": field is immutable`);
    }
    if (!inputMeta.resourceVersion && !resource.unconditionalUpdate) resourceVersionRequired(resource, name);
    if (inputMeta.resourceVersion && inputMeta.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(resource.plural, resource.group, name);
    }
    let next: KubeObject;
    if (options.subresource === 'status') {
      next = { ...structuredClone(current), status: structuredClone(input.status ?? {}) };
    } else {
      next = {
        ...structuredClone(input),
        apiVersion: apiVersionOf(resource),
        kind: resource.kind,
        metadata: {
          ...structuredClone(inputMeta),
          // Set by the server only: a client cannot change them through an update.
          name,
          namespace,
          uid: current.metadata.uid,
          creationTimestamp: current.metadata.creationTimestamp,
          deletionTimestamp: current.metadata.deletionTimestamp,
          deletionGracePeriodSeconds: current.metadata.deletionGracePeriodSeconds,
          generation: current.metadata.generation,
          resourceVersion: current.metadata.resourceVersion,
        },
      };
      for (const [k, v] of Object.entries(next.metadata)) if (v === undefined) delete next.metadata[k];
      if (resource.statusSubresource) next.status = structuredClone(current.status);
    }
    validateObject(resource, next, current);
    return this.#replace(resource, key, current, next);
  }

  /** Server-side changes no client may make (deletionTimestamp): used by graceful deletion and test helpers. */
  systemUpdate(resource: ResourceType, namespace: string, name: string, mutate: (obj: KubeObject) => void): KubeObject {
    const bucket = this.#bucket(resource);
    const key = objectKey(namespace, name);
    const current = bucket.get(key);
    if (!current) throw notFound(resource.plural, resource.group, name);
    const next = structuredClone(current);
    mutate(next);
    next.metadata.name = name;
    next.metadata.namespace = namespace;
    next.metadata.uid = current.metadata.uid;
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    return this.#replace(resource, key, current, next);
  }

  delete(
    resource: ResourceType,
    namespace: string,
    name: string,
    precondition?: { resourceVersion?: string; uid?: string },
  ): KubeObject {
    const bucket = this.#bucket(resource);
    const key = objectKey(namespace, name);
    const current = bucket.get(key);
    if (!current) throw notFound(resource.plural, resource.group, name);
    if (
      (precondition?.resourceVersion && precondition.resourceVersion !== current.metadata.resourceVersion) ||
      (precondition?.uid && precondition.uid !== current.metadata.uid)
    ) {
      throw conflict(resource.plural, resource.group, name);
    }
    bucket.delete(key);
    const rv = ++this.#rv;
    const last = structuredClone(current);
    last.metadata.resourceVersion = String(rv);
    this.#emit({ rv, type: 'DELETED', resource, previous: current, object: last });
    return structuredClone(last);
  }

  /** Events after `rv` (exclusive), oldest first; throws 410 Expired when they were compacted. */
  eventsAfter(rv: number): StoreEvent[] {
    if (rv < this.#oldestRv) throw expired(rv, this.#oldestRv);
    return this.#history.filter((e) => e.rv > rv);
  }

  /** Forgets all history: watches from any version older than the current one get 410 Gone. */
  compact(): void {
    this.#history = [];
    this.#oldestRv = this.#rv;
  }

  /** Forces a new resourceVersion without an object change (so compact() can expire the current one too). */
  bumpResourceVersion(): number {
    return ++this.#rv;
  }

  subscribe(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #replace(resource: ResourceType, key: string, current: KubeObject, next: KubeObject): KubeObject {
    if (JSON.stringify(next) === JSON.stringify(current)) return structuredClone(current);
    const rv = ++this.#rv;
    next.metadata.resourceVersion = String(rv);
    if (JSON.stringify(next.spec) !== JSON.stringify(current.spec) && typeof current.metadata.generation === 'number') {
      next.metadata.generation = current.metadata.generation + 1;
    }
    this.#bucket(resource).set(key, next);
    this.#emit({ rv, type: 'MODIFIED', resource, previous: current, object: next });
    return structuredClone(next);
  }

  #emit(event: StoreEvent): void {
    this.#history.push(event);
    if (this.#history.length > this.#historyLimit) {
      const dropped = this.#history.splice(0, this.#history.length - this.#historyLimit);
      this.#oldestRv = dropped.at(-1)?.rv ?? this.#oldestRv;
    }
    for (const listener of [...this.#listeners]) listener(event);
  }

  #bucket(resource: ResourceType): Map<string, KubeObject> {
    const key = resourceKey(resource);
    let bucket = this.#objects.get(key);
    if (!bucket) {
      bucket = new Map();
      this.#objects.set(key, bucket);
    }
    return bucket;
  }
}

function sortedClones(objects: KubeObject[], namespace: string | undefined): KubeObject[] {
  const all = objects.filter((o) => namespace === undefined || o.metadata.namespace === namespace);
  all.sort((a, b) =>
    objectKey(a.metadata.namespace, a.metadata.name).localeCompare(objectKey(b.metadata.namespace, b.metadata.name)),
  );
  return all.map((o) => structuredClone(o));
}

/** The sort and continue key of an object: `namespace/name`. */
export function objectKey(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ''}/${name ?? ''}`;
}

/** RFC 3339 with second precision, like the API server's metav1.Time. */
export function nowSeconds(): string {
  return `${new Date().toISOString().slice(0, 19)}Z`;
}

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function validateName(resource: ResourceType, name: string): void {
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw invalid(
      resource.kind,
      name,
      `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
    );
  }
}
