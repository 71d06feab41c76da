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

/**
 * `/openapi/v2` as the protobuf (gnostic openapi_v2.Document) that kubectl asks for when it has no
 * OpenAPI v3 (kubectl < 1.27 always). It holds no definitions: kubectl validates an object only
 * against a schema it finds, so with none it skips client-side validation and sends the object.
 * Fields: Document.swagger = 1, Document.info = 2 (Info.title = 1, Info.version = 2), Document.paths = 8.
 */
/** kubectl asks with Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf, which Go cannot parse back as a Content-Type. */
export const OPENAPI_V2_PROTOBUF_TYPE = 'application/octet-stream';

export function openApiV2Protobuf(): Buffer {
  const info = Buffer.concat([protoString(1, 'Kubernetes'), protoString(2, 'v1.32.0')]);
  return Buffer.concat([protoString(1, '2.0'), protoBytes(2, info), protoBytes(8, Buffer.alloc(0))]);
}

function protoString(field: number, value: string): Buffer {
  return protoBytes(field, Buffer.from(value, 'utf8'));
}

/** A length-delimited protobuf field (wire type 2). */
function protoBytes(field: number, value: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(value.length), value]);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}
