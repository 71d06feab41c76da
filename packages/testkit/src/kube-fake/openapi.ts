import { RESOURCES, type ResourceType } from './resources.ts';

/**
 * The sliver of OpenAPI v3 kubectl needs: before `create`/`apply`/`patch` it looks up whether the
 * PATCH operation of the object's kind accepts the `fieldValidation` query parameter, and if so
 * leaves validation to the server (which the fake does not do: unknown fields are kept). Without
 * these documents kubectl falls back to OpenAPI v2 in protobuf and refuses to create anything.
 * No schemas are served: `kubectl explain` does not work.
 */

const HASH = 'pdrouter-fake-1';

function gvPath(r: ResourceType): string {
  return r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`;
}

export function openApiV3Root() {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const r of RESOURCES) paths[gvPath(r)] = { serverRelativeURL: `/openapi/v3/${gvPath(r)}?hash=${HASH}` };
  return { paths };
}

/** `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`; undefined when not served. */
export function openApiV3GroupVersion(path: string) {
  const resources = RESOURCES.filter((r) => `/openapi/v3/${gvPath(r)}` === path);
  if (resources.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  for (const r of resources) {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const params = ['dryRun', 'fieldManager', 'fieldValidation', 'force'].map((name) => ({
      name,
      in: 'query',
      schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true },
    }));
    paths[`/${gvPath(r)}/namespaces/{namespace}/${r.plural}/{name}`] = {
      patch: {
        operationId: `patchNamespaced${r.kind}`,
        parameters: params,
        responses: { '200': { description: 'OK' } },
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': gvk,
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: {} };
}
