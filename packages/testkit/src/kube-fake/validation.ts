import { isIP } from 'node:net';
import { LEASES, PODS, type ResourceType } from './resources.ts';
import { badRequest, invalidFields } from './status.ts';
import { isJsonObject, type JsonObject, type KubeObject } from './types.ts';

/**
 * The API server's checks on what a client writes, for the fields our programs write and read, so a
 * client that would be refused by a real cluster is refused here too:
 * - a body that does not decode into the Go type (a string where an integer goes, a MicroTime without
 *   its six fractional digits) is 400 BadRequest, worded like the server's decoding error;
 * - a decoded object that breaks a validation rule is 422 Invalid, one cause per field.
 * The rules follow pkg/apis/core/validation (pods) and pkg/apis/coordination/validation (leases).
 */

export interface FieldError {
  field: string;
  reason: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueForbidden';
  message: string;
}

/** Throws 400 or 422 when `next` may not be stored; `current` is the stored object for an update. */
export function validateObject(resource: ResourceType, next: KubeObject, current?: KubeObject): void {
  const errors: FieldError[] = validateMeta(resource, next.metadata);
  if (resource === LEASES) errors.push(...validateLease(next));
  if (resource === PODS) errors.push(...validatePod(next, current));
  if (errors.length > 0) throw invalidFields(resource, next.metadata.name ?? '', errors);
}

/** An update without metadata.resourceVersion, for a type whose strategy forbids unconditional updates. */
export function resourceVersionRequired(resource: ResourceType, name: string): never {
  throw invalidFields(resource, name, [
    {
      field: 'metadata.resourceVersion',
      reason: 'FieldValueInvalid',
      message: 'Invalid value: 0x0: must be specified for an update',
    },
  ]);
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** metav1.MicroTime's only accepted layout: RFC 3339 with exactly six fractional digits. */
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

function validateMeta(resource: ResourceType, meta: KubeObject['metadata']): FieldError[] {
  const errors: FieldError[] = [];
  for (const field of ['labels', 'annotations'] as const) {
    const map = meta[field];
    if (map === undefined) continue;
    if (!isJsonObject(map) || !Object.values(map).every((v) => typeof v === 'string')) {
      throw decodeError(
        resource,
        `json: cannot unmarshal ${jsonTypeOf(map)} into Go struct field ObjectMeta.metadata.${field} of type map[string]string`,
      );
    }
  }
  for (const [key, value] of Object.entries(meta.labels ?? {})) {
    if (!qualifiedKey(key))
      errors.push(
        invalidValue(
          'metadata.labels',
          key,
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        ),
      );
    if (value.length > 63 || !LABEL_VALUE.test(value)) {
      errors.push(
        invalidValue(
          'metadata.labels',
          value,
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        ),
      );
    }
  }
  for (const key of Object.keys(meta.annotations ?? {})) {
    if (!qualifiedKey(key))
      errors.push(
        invalidValue(
          'metadata.annotations',
          key,
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        ),
      );
  }
  return errors;
}

/** A label or annotation key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
function qualifiedKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) return false;
  return name.length <= 63 && NAME_PART.test(name);
}

function validateLease(lease: KubeObject): FieldError[] {
  const spec = lease.spec ?? {};
  if (!isJsonObject(spec))
    throw leaseDecodeError(
      `json: cannot unmarshal ${jsonTypeOf(spec)} into Go struct field Lease.spec of type v1.LeaseSpec`,
    );
  const errors: FieldError[] = [];
  for (const f of ['holderIdentity', 'strategy', 'preferredHolder'] as const) {
    if (spec[f] !== undefined && spec[f] !== null && typeof spec[f] !== 'string') {
      throw leaseDecodeError(
        `json: cannot unmarshal ${jsonTypeOf(spec[f])} into Go struct field LeaseSpec.spec.${f} of type string`,
      );
    }
  }
  for (const f of ['leaseDurationSeconds', 'leaseTransitions'] as const) {
    const v = spec[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > 2 ** 31 - 1) {
      throw leaseDecodeError(
        `json: cannot unmarshal ${jsonTypeOf(v)} into Go struct field LeaseSpec.spec.${f} of type int32`,
      );
    }
  }
  for (const f of ['acquireTime', 'renewTime'] as const) {
    const v = spec[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string')
      throw leaseDecodeError(`json: cannot unmarshal ${jsonTypeOf(v)} into Go value of type string`);
    if (!MICRO_TIME.test(v) || Number.isNaN(Date.parse(v))) {
      throw leaseDecodeError(
        `parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse as RFC3339Micro`,
      );
    }
  }
  const duration = spec.leaseDurationSeconds;
  if (typeof duration === 'number' && duration <= 0) {
    errors.push(invalidValue('spec.leaseDurationSeconds', duration, 'must be greater than 0'));
  }
  const transitions = spec.leaseTransitions;
  if (typeof transitions === 'number' && transitions < 0) {
    errors.push(invalidValue('spec.leaseTransitions', transitions, 'must be greater than or equal to 0'));
  }
  if (typeof spec.preferredHolder === 'string' && spec.preferredHolder !== '' && spec.strategy === undefined) {
    errors.push({
      field: 'spec.strategy',
      reason: 'FieldValueForbidden',
      message: 'Forbidden: may only be specified if `strategy` is defined',
    });
  }
  return errors;
}

function validatePod(pod: KubeObject, current: KubeObject | undefined): FieldError[] {
  const errors: FieldError[] = [];
  const spec = pod.spec;
  if (spec !== undefined && !isJsonObject(spec))
    throw podDecodeError(`json: cannot unmarshal ${jsonTypeOf(spec)} into Go struct field Pod.spec of type v1.PodSpec`);
  const containers = spec?.containers;
  if (containers !== undefined && !Array.isArray(containers)) {
    throw podDecodeError(
      `json: cannot unmarshal ${jsonTypeOf(containers)} into Go struct field PodSpec.spec.containers of type []v1.Container`,
    );
  }
  if (current !== undefined) {
    // Pod specs are immutable apart from a few fields (images, deadlines, added tolerations).
    if (JSON.stringify(mutableSpecErased(spec)) !== JSON.stringify(mutableSpecErased(current.spec))) {
      errors.push({
        field: 'spec',
        reason: 'FieldValueForbidden',
        message:
          'Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
      });
    }
  } else if (!containers || containers.length === 0) {
    errors.push({ field: 'spec.containers', reason: 'FieldValueRequired', message: 'Required value' });
  }
  (containers ?? []).forEach((c: unknown, i: number) => {
    const at = `spec.containers[${i}]`;
    if (!isJsonObject(c))
      throw podDecodeError(
        `json: cannot unmarshal ${jsonTypeOf(c)} into Go struct field PodSpec.spec.containers of type v1.Container`,
      );
    if (typeof c.name !== 'string' || c.name === '')
      errors.push({ field: `${at}.name`, reason: 'FieldValueRequired', message: 'Required value' });
    else if (c.name.length > 63 || !DNS_LABEL.test(c.name))
      errors.push(
        invalidValue(
          `${at}.name`,
          c.name,
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
        ),
      );
    if (current === undefined && (typeof c.image !== 'string' || c.image.trim() === '')) {
      errors.push({ field: `${at}.image`, reason: 'FieldValueRequired', message: 'Required value' });
    }
    const ports = c.ports ?? [];
    if (!Array.isArray(ports))
      throw podDecodeError(
        `json: cannot unmarshal ${jsonTypeOf(ports)} into Go struct field Container.spec.containers.ports of type []v1.ContainerPort`,
      );
    ports.forEach((p: unknown, j: number) => {
      const port = isJsonObject(p) ? p.containerPort : undefined;
      if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port))) {
        throw podDecodeError(
          `json: cannot unmarshal ${jsonTypeOf(port)} into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32`,
        );
      }
      if (typeof port !== 'number' || port < 1 || port > 65535) {
        errors.push(
          invalidValue(`${at}.ports[${j}].containerPort`, port ?? 0, 'must be between 1 and 65535, inclusive'),
        );
      }
    });
  });
  const podIP = pod.status?.podIP;
  if (podIP !== undefined && podIP !== '' && (typeof podIP !== 'string' || isIP(podIP) === 0)) {
    errors.push(invalidValue('status.podIP', podIP, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  }
  return errors;
}

function mutableSpecErased(spec: JsonObject | undefined): unknown {
  if (spec === undefined) return undefined;
  const { activeDeadlineSeconds: _a, tolerations: _t, terminationGracePeriodSeconds: _g, ...rest } = spec;
  const images = (list: unknown) =>
    Array.isArray(list) ? list.map((c) => (isJsonObject(c) ? { ...c, image: undefined } : c)) : list;
  return { ...rest, containers: images(rest.containers), initContainers: images(rest.initContainers) };
}

function invalidValue(field: string, value: unknown, detail: string): FieldError {
  return { field, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${detail}` };
}

function jsonTypeOf(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v;
}

/** The server's error for a body that does not decode into the resource's Go type. */
function decodeError(resource: ResourceType, message: string) {
  return badRequest(
    `${resource.kind} in version "${resource.version}" cannot be handled as a ${resource.kind}: ${message}`,
  );
}
const podDecodeError = (m: string) => decodeError(PODS, m);
const leaseDecodeError = (m: string) => decodeError(LEASES, m);
