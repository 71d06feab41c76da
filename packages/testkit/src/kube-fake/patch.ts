import { badRequest, KubeApiError } from './status.ts';
import { isJsonObject, type JsonObject } from './types.ts';

/**
 * The three patch formats clients send (https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/):
 * JSON patch (RFC 6902, client-node's default), JSON merge patch (RFC 7386) and strategic merge patch,
 * implemented here as a merge patch whose lists of named things (containers, ports, conditions, ...)
 * merge by their key instead of being replaced, plus the `$patch: delete|replace` directives. That
 * covers labels, annotations, status conditions and container fields; list-type annotations of less
 * common fields are not modelled.
 */

export const PATCH_CONTENT_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
} as const;

export function applyPatch(target: JsonObject, contentType: string, patch: unknown): JsonObject {
  const type = contentType.split(';')[0]?.trim().toLowerCase();
  switch (type) {
    case PATCH_CONTENT_TYPES.json:
      return applyJsonPatch(target, patch);
    case PATCH_CONTENT_TYPES.merge:
      if (!isJsonObject(patch)) throw badRequest('merge patch must be a JSON object');
      return mergePatch(target, patch, false) as JsonObject;
    case PATCH_CONTENT_TYPES.strategic:
      if (!isJsonObject(patch)) throw badRequest('strategic merge patch must be a JSON object');
      return mergePatch(target, patch, true) as JsonObject;
    default:
      throw new KubeApiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: ${Object.values(PATCH_CONTENT_TYPES).join(', ')}`,
      );
  }
}

/** Keys by which strategic merge patch merges lists of objects (the patchMergeKey of the core types). */
const MERGE_KEYS = ['name', 'type', 'containerPort', 'ip', 'key', 'mountPath', 'devicePath'];

function mergePatch(target: unknown, patch: unknown, strategic: boolean): unknown {
  if (!isJsonObject(patch)) return structuredClone(patch);
  if (strategic && patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return structuredClone(rest);
  }
  const result: JsonObject = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (strategic && key.startsWith('$')) continue;
    if (value === null) {
      delete result[key];
    } else if (strategic && Array.isArray(value) && Array.isArray(result[key])) {
      result[key] = mergeList(result[key] as unknown[], value);
    } else if (isJsonObject(value)) {
      if (strategic && value.$patch === 'delete') delete result[key];
      else result[key] = mergePatch(result[key], value, strategic);
    } else {
      result[key] = structuredClone(value);
    }
  }
  return result;
}

function mergeList(current: unknown[], patch: unknown[]): unknown[] {
  const key = MERGE_KEYS.find((k) => patch.every((p) => isJsonObject(p) && p[k] !== undefined));
  if (!key || !current.every((c) => isJsonObject(c))) return structuredClone(patch);
  const result = current.map((c) => structuredClone(c) as JsonObject);
  for (const item of patch as JsonObject[]) {
    const index = result.findIndex((c) => c[key] === item[key]);
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = mergePatch(result[index], item, true) as JsonObject;
    } else {
      result.push(mergePatch({}, item, true) as JsonObject);
    }
  }
  return result;
}

interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

function applyJsonPatch(target: JsonObject, patch: unknown): JsonObject {
  if (!Array.isArray(patch)) throw badRequest('json patch must be a JSON array of operations');
  let doc: unknown = structuredClone(target);
  for (const raw of patch) {
    if (!isJsonObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw badRequest('json patch operation needs "op" and "path"');
    }
    doc = applyOp(doc, raw as unknown as JsonPatchOp);
  }
  if (!isJsonObject(doc)) throw badRequest('json patch must leave an object');
  return doc;
}

function applyOp(doc: unknown, op: JsonPatchOp): unknown {
  switch (op.op) {
    case 'add':
      return setPointer(doc, op.path, structuredClone(op.value), 'add');
    case 'replace':
      getPointer(doc, op.path);
      return setPointer(doc, op.path, structuredClone(op.value), 'replace');
    case 'remove':
      return removePointer(doc, op.path);
    case 'test':
      if (JSON.stringify(getPointer(doc, op.path)) !== JSON.stringify(op.value)) {
        throw new KubeApiError(422, 'Invalid', `json patch test operation failed at ${op.path}`);
      }
      return doc;
    case 'move': {
      const value = getPointer(doc, requireFrom(op));
      return setPointer(removePointer(doc, requireFrom(op)), op.path, value, 'add');
    }
    case 'copy':
      return setPointer(doc, op.path, structuredClone(getPointer(doc, requireFrom(op))), 'add');
    default:
      throw badRequest(`unknown json patch operation ${JSON.stringify(op.op)}`);
  }
}

function requireFrom(op: JsonPatchOp): string {
  if (typeof op.from !== 'string') throw badRequest(`json patch ${op.op} needs "from"`);
  return op.from;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`invalid json pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function getPointer(doc: unknown, pointer: string): unknown {
  let cur = doc;
  for (const part of parsePointer(pointer)) {
    if (Array.isArray(cur) && /^\d+$/.test(part) && Number(part) < cur.length) cur = cur[Number(part)];
    else if (isJsonObject(cur) && Object.hasOwn(cur, part)) cur = cur[part];
    else throw new KubeApiError(422, 'Invalid', `json patch path ${pointer} does not exist`);
  }
  return cur;
}

function setPointer(doc: unknown, pointer: string, value: unknown, mode: 'add' | 'replace'): unknown {
  const parts = parsePointer(pointer);
  const last = parts.pop();
  if (last === undefined) return value;
  const parent = getPointer(doc, parts.length ? `/${parts.map(escapePointer).join('/')}` : '');
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) {
      throw new KubeApiError(422, 'Invalid', `json patch index out of range at ${pointer}`);
    }
    if (mode === 'add') parent.splice(index, 0, value);
    else parent[index] = value;
  } else if (isJsonObject(parent)) {
    parent[last] = value;
  } else {
    throw new KubeApiError(422, 'Invalid', `json patch path ${pointer} does not exist`);
  }
  return doc;
}

function removePointer(doc: unknown, pointer: string): unknown {
  const parts = parsePointer(pointer);
  const last = parts.pop();
  if (last === undefined) throw badRequest('json patch cannot remove the whole object');
  getPointer(doc, pointer);
  const parent = getPointer(doc, parts.length ? `/${parts.map(escapePointer).join('/')}` : '');
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else if (isJsonObject(parent)) delete parent[last];
  return doc;
}

function escapePointer(part: string): string {
  return part.replaceAll('~', '~0').replaceAll('/', '~1');
}
