import type { IncomingMessage, ServerResponse } from 'node:http';
import { queryFlag, readJsonBody, sendJson } from './http-util.ts';
import { applyPatch } from './patch.ts';
import { apiVersionOf, PODS, type ResourceType } from './resources.ts';
import type { Route } from './routes.ts';
import { type ObjectPredicate, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { badRequest, expired, invalid, KubeApiError, successStatus } from './status.ts';
import { type ObjectStore, objectKey } from './store.ts';
import { isJsonObject, type KubeObject } from './types.ts';
import { ActiveWatch } from './watch.ts';

/** What the resource handlers need from the server around them. */
export interface HandlerContext {
  store: ObjectStore;
  /** Caps every watch's duration (seconds), like the server's --min-request-timeout. */
  watchMaxSeconds: number;
  bookmarkIntervalMs: number;
  registerWatch(watch: ActiveWatch): void;
  unregisterWatch(watch: ActiveWatch): void;
  /** A pod DELETE: returns the Terminating pod when deletion is deferred (graceful), undefined to delete now. */
  deletePodGracefully(namespace: string, name: string, gracePeriodSeconds: number | undefined): KubeObject | undefined;
  /** Table rendering for kubectl, when the client asks for it. */
  renderTable?: (resource: ResourceType, objects: KubeObject[], listMeta: { resourceVersion: string }) => unknown;
  renderTableRow?: (resource: ResourceType, obj: KubeObject) => unknown;
}

type ResourceRoute = Extract<Route, { kind: 'resource' }>;

export async function handleResource(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: ResourceRoute,
  query: URLSearchParams,
): Promise<void> {
  const { resource, namespace, name, subresource } = route;
  const method = req.method ?? 'GET';
  if (subresource !== undefined && !(subresource === 'status' && resource.statusSubresource)) {
    throw new KubeApiError(404, 'NotFound', `the server could not find the requested resource`);
  }
  const wantsTable = (req.headers.accept ?? '').includes('as=Table') && ctx.renderTable !== undefined;

  if (name === undefined) {
    if (method === 'GET' && (route.legacyWatch || queryFlag(query, 'watch'))) {
      return startWatch(ctx, req, res, route, query, wantsTable);
    }
    if (method === 'GET') return list(ctx, res, resource, namespace, query, wantsTable);
    if (namespace === undefined) throw methodNotAllowed(method);
    if (method === 'POST') {
      const body = await readObjectBody(req, resource);
      const bodyNs = body.metadata.namespace;
      if (bodyNs !== undefined && bodyNs !== namespace) {
        throw badRequest(`the namespace of the provided object does not match the namespace sent on the request`);
      }
      return sendJson(res, 201, ctx.store.create(resource, namespace, body));
    }
    if (method === 'DELETE') {
      const matches = selectors(resource, query);
      for (const obj of ctx.store.list(resource, namespace)) {
        if (matches(obj)) ctx.store.delete(resource, namespace, obj.metadata.name ?? '');
      }
      return sendJson(res, 200, successStatus({ kind: resource.plural, group: resource.group || undefined }));
    }
    throw methodNotAllowed(method);
  }

  const ns = namespace ?? '';
  switch (method) {
    case 'GET': {
      const obj = ctx.store.mustGet(resource, ns, name);
      return sendJson(
        res,
        200,
        wantsTable && ctx.renderTable
          ? ctx.renderTable(resource, [obj], { resourceVersion: obj.metadata.resourceVersion ?? '' })
          : obj,
      );
    }
    case 'PUT': {
      const body = await readObjectBody(req, resource);
      return sendJson(
        res,
        200,
        ctx.store.update(resource, ns, name, body, { subresource: subresource as 'status' | undefined }),
      );
    }
    case 'PATCH': {
      const patch = await readJsonBody(req);
      const current = ctx.store.mustGet(resource, ns, name);
      const patched = applyPatch(current, req.headers['content-type'] ?? '', patch);
      if (!isJsonObject(patched.metadata)) throw invalid(resource.kind, name, 'metadata: Required value');
      // A patch applies to the version it read unless it names one itself (then 409 when stale).
      const patchRv = isJsonObject(patch) && isJsonObject(patch.metadata) ? patch.metadata.resourceVersion : undefined;
      (patched.metadata as KubeObject['metadata']).resourceVersion =
        typeof patchRv === 'string' ? patchRv : current.metadata.resourceVersion;
      return sendJson(
        res,
        200,
        ctx.store.update(resource, ns, name, patched as KubeObject, {
          subresource: subresource as 'status' | undefined,
        }),
      );
    }
    case 'DELETE': {
      if (subresource !== undefined) throw methodNotAllowed(method);
      const options = await readDeleteOptions(req);
      const grace = numberParam(query.get('gracePeriodSeconds')) ?? options.gracePeriodSeconds;
      if (resource === PODS) {
        const pending = ctx.deletePodGracefully(ns, name, grace);
        if (pending) return sendJson(res, 200, pending);
      }
      const deleted = ctx.store.delete(resource, ns, name, options.preconditions);
      // Pods answer with the deleted object, other resources with a Status (as the real server does).
      if (resource === PODS) return sendJson(res, 200, deleted);
      return sendJson(res, 200, successStatus({ name, group: resource.group || undefined, kind: resource.plural }));
    }
    default:
      throw methodNotAllowed(method);
  }
}

function list(
  ctx: HandlerContext,
  res: ServerResponse,
  resource: ResourceType,
  namespace: string | undefined,
  query: URLSearchParams,
  wantsTable: boolean,
): void {
  const matches = selectors(resource, query);
  const rvParam = query.get('resourceVersion');
  const page = parsePaging(query);
  if (rvParam && rvParam !== '0' && query.get('resourceVersionMatch') === 'Exact') {
    const rv = Number(rvParam);
    if (rv < ctx.store.oldestResourceVersion) throw expired(rv, ctx.store.oldestResourceVersion);
  }
  // Later pages come from the snapshot the first page was cut from, as etcd serves them.
  const rv = page.continueFrom?.rv ?? ctx.store.resourceVersion;
  const all = page.continueFrom
    ? snapshotAfter(ctx.store, resource, namespace, page.continueFrom)
    : ctx.store.list(resource, namespace);
  const matching = all.filter(matches);
  const items = page.limit === undefined ? matching : matching.slice(0, page.limit);
  const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
  const last = items.at(-1);
  if (last !== undefined && items.length < matching.length) {
    metadata.continue = encodeContinue(rv, objectKey(last.metadata.namespace, last.metadata.name));
    // Counted only without selectors, as the real server does (it cannot know the count otherwise).
    if (!query.get('labelSelector') && !query.get('fieldSelector'))
      metadata.remainingItemCount = matching.length - items.length;
  }
  if (wantsTable && ctx.renderTable) {
    sendJson(res, 200, ctx.renderTable(resource, items, metadata as { resourceVersion: string }));
    return;
  }
  // Items of a list carry no kind/apiVersion on a real server; the list says what they are.
  const bare = items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
  sendJson(res, 200, { kind: `${resource.kind}List`, apiVersion: apiVersionOf(resource), metadata, items: bare });
}

function snapshotAfter(
  store: ObjectStore,
  resource: ResourceType,
  namespace: string | undefined,
  from: { rv: number; start: string },
): KubeObject[] {
  if (from.rv < store.oldestResourceVersion) {
    throw new KubeApiError(
      410,
      'Expired',
      'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
    );
  }
  return store
    .listAt(resource, from.rv, namespace)
    .filter((o) => objectKey(o.metadata.namespace, o.metadata.name) > from.start);
}

interface Paging {
  limit: number | undefined;
  continueFrom: { rv: number; start: string } | undefined;
}

/** `limit` and `continue` as the server reads them; the token is the server's shape (base64 JSON). */
function parsePaging(query: URLSearchParams): Paging {
  const limitParam = numberParam(query.get('limit'));
  const limit = limitParam !== undefined && limitParam > 0 ? Math.floor(limitParam) : undefined;
  const token = query.get('continue');
  if (!token) return { limit, continueFrom: undefined };
  const rvParam = query.get('resourceVersion');
  if (rvParam !== null && rvParam !== '')
    throw badRequest('specifying resource version is not allowed when using continue');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    !isJsonObject(parsed) ||
    parsed.v !== 'meta.k8s.io/v1' ||
    typeof parsed.rv !== 'number' ||
    typeof parsed.start !== 'string'
  ) {
    throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
  return { limit, continueFrom: { rv: parsed.rv, start: parsed.start } };
}

function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64');
}

function startWatch(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: ResourceRoute,
  query: URLSearchParams,
  wantsTable: boolean,
): void {
  const requested = numberParam(query.get('timeoutSeconds'));
  const timeoutSeconds =
    requested !== undefined && requested > 0 ? Math.min(requested, ctx.watchMaxSeconds) : ctx.watchMaxSeconds;
  const watch = new ActiveWatch(
    res,
    {
      resource: route.resource,
      namespace: route.namespace,
      matches: selectors(route.resource, query),
      resourceVersion: query.get('resourceVersion') ?? undefined,
      allowBookmarks: queryFlag(query, 'allowWatchBookmarks'),
      timeoutSeconds,
      bookmarkIntervalMs: ctx.bookmarkIntervalMs,
      render: wantsTable && ctx.renderTableRow ? (obj) => ctx.renderTableRow?.(route.resource, obj) : undefined,
    },
    (w) => ctx.unregisterWatch(w),
  );
  ctx.registerWatch(watch);
  req.socket.setTimeout(0);
  watch.start(ctx.store);
}

function selectors(resource: ResourceType, query: URLSearchParams): ObjectPredicate {
  const label = parseLabelSelector(query.get('labelSelector') ?? '');
  const field = parseFieldSelector(query.get('fieldSelector') ?? '', resource.fieldSelectors);
  return (obj) => label(obj) && field(obj);
}

async function readObjectBody(req: IncomingMessage, resource: ResourceType): Promise<KubeObject> {
  const body = await readJsonBody(req);
  if (!isJsonObject(body)) throw badRequest(`the body must be a ${resource.kind} object`);
  if (body.kind !== undefined && body.kind !== resource.kind) {
    throw badRequest(
      `the kind of the provided object (${String(body.kind)}) does not match the resource (${resource.kind})`,
    );
  }
  if (body.metadata === undefined) body.metadata = {};
  if (!isJsonObject(body.metadata)) throw badRequest('metadata must be an object');
  return body as KubeObject;
}

interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { resourceVersion?: string; uid?: string };
}

async function readDeleteOptions(req: IncomingMessage): Promise<DeleteOptions> {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return {};
  const body = await readJsonBody(req).catch((err: unknown) => {
    if (err instanceof KubeApiError && err.message === 'the request body is empty') return {};
    throw err;
  });
  if (!isJsonObject(body)) throw badRequest('DeleteOptions must be an object');
  const out: DeleteOptions = {};
  if (typeof body.gracePeriodSeconds === 'number') out.gracePeriodSeconds = body.gracePeriodSeconds;
  if (isJsonObject(body.preconditions)) {
    const p = body.preconditions;
    out.preconditions = {
      resourceVersion: typeof p.resourceVersion === 'string' ? p.resourceVersion : undefined,
      uid: typeof p.uid === 'string' ? p.uid : undefined,
    };
  }
  return out;
}

function numberParam(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw badRequest(`invalid number: ${JSON.stringify(value)}`);
  return n;
}

function methodNotAllowed(method: string): KubeApiError {
  return new KubeApiError(
    405,
    'MethodNotAllowed',
    `the server does not allow this method on the requested resource (${method})`,
  );
}
