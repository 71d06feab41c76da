import type { ServerResponse } from 'node:http';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, FAKE_SERVER_VERSION } from './discovery-docs.ts';
import { sendJson } from './http-util.ts';
import { OPENAPI_V2_PROTOBUF_TYPE, openApiV2Protobuf, openApiV3GroupVersion, openApiV3Root } from './openapi.ts';
import type { Route } from './routes.ts';
import { KubeApiError } from './status.ts';
import { nowSeconds } from './store.ts';

/** Everything that is not a resource: version, discovery, OpenAPI, health, namespaces. GET only. */
export function serveDocument(
  res: ServerResponse,
  route: Route,
  pathname: string,
  options: { serverAddress: string; openApiV3: boolean },
): void {
  if (route.kind === 'namespace') {
    sendNamespace(res, route.namespace);
    return;
  }
  if (pathname === '/openapi/v2') {
    const body = openApiV2Protobuf();
    res.writeHead(200, { 'Content-Type': OPENAPI_V2_PROTOBUF_TYPE, 'Content-Length': body.length });
    res.end(body);
    return;
  }
  const v3Off = !options.openApiV3 && pathname.startsWith('/openapi/v3');
  const doc = route.kind === 'discovery' && !v3Off ? discoveryDocument(pathname, options.serverAddress) : undefined;
  if (doc === undefined) throw new KubeApiError(404, 'NotFound', 'the server could not find the requested resource');
  if (typeof doc === 'string') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(doc);
    return;
  }
  sendJson(res, 200, doc);
}

function discoveryDocument(path: string, serverAddress: string): unknown {
  const parts = path.split('/').filter(Boolean);
  if (path === '/version' || path === '/version/') return FAKE_SERVER_VERSION;
  if (path === '/healthz' || path === '/livez' || path === '/readyz') return 'ok';
  if (path === '/openapi/v3' || path === '/openapi/v3/') return openApiV3Root();
  if (path.startsWith('/openapi/v3/')) return openApiV3GroupVersion(path);
  if (parts[0] === 'api') {
    if (parts.length === 1) return apiVersions(serverAddress);
    return apiResourceList('', parts[1] ?? '');
  }
  if (parts[0] === 'apis') {
    if (parts.length === 1) return apiGroupList();
    if (parts.length === 2) return apiGroup(parts[1] ?? '');
    return apiResourceList(parts[1] ?? '', parts[2] ?? '');
  }
  return undefined;
}

/** Every namespace "exists" (the fake does not model them); kubectl reads one now and then. */
function sendNamespace(res: ServerResponse, name: string | undefined): void {
  const ns = (n: string) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: n, uid: `namespace-${n}`, resourceVersion: '1', creationTimestamp: nowSeconds() },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  });
  if (name !== undefined) {
    sendJson(res, 200, ns(name));
    return;
  }
  sendJson(res, 200, {
    apiVersion: 'v1',
    kind: 'NamespaceList',
    metadata: { resourceVersion: '1' },
    items: [ns('default')],
  });
}
