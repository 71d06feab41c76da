import { randomBytes } from 'node:crypto';
import { queryFlag } from './http-util.ts';
import type { Route } from './routes.ts';
import { KubeApiError, qualifiedName } from './status.ts';
import { isJsonObject } from './types.ts';

/**
 * Authentication and authorization as the API server's RBAC authorizer decides them, for the few rules
 * the fake's callers need: every request carries a bearer token (401 without a known one), and a
 * resource request passes only if a rule bound to the token's user allows its verb on its resource
 * (subresources as `pods/status`), API group, namespace and, when the rules name objects, its name
 * (403 Forbidden with the real server's wording otherwise). Discovery documents (/api, /apis, /version,
 * /openapi) are open to every authenticated user, as the system:discovery ClusterRole makes them.
 *
 * Rules come from Role/RoleBinding/ClusterRole/ClusterRoleBinding objects (what deploy/ renders);
 * each ServiceAccount or User a binding names gets a token of its own.
 * https://kubernetes.io/docs/reference/access-authn-authz/rbac/
 */

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface RequestAttributes {
  verb: string;
  group: string;
  /** `pods`, `pods/status`, `leases`, `namespaces`. */
  resource: string;
  /** undefined: a cluster-scoped resource or a request across all namespaces. */
  namespace: string | undefined;
  name: string | undefined;
}

export const ADMIN_USER = 'kubernetes-admin';

interface Binding {
  /** undefined: a ClusterRoleBinding (every namespace). */
  namespace: string | undefined;
  roleKind: 'Role' | 'ClusterRole';
  roleName: string;
  users: string[];
}

export class Authorizer {
  readonly #tokens = new Map<string, string>();
  readonly #admins = new Set<string>();
  /** `Role/ns/name` or `ClusterRole//name` → rules. */
  readonly #roles = new Map<string, PolicyRule[]>();
  readonly #bindings: Binding[] = [];

  constructor(adminToken: string) {
    this.#tokens.set(adminToken, ADMIN_USER);
    this.#admins.add(ADMIN_USER);
  }

  /**
   * Loads RBAC objects (other kinds are skipped); objects without a namespace get `namespace`, as
   * kustomize's `namespace:` would give them. Returns the users the bindings name.
   */
  load(objects: readonly unknown[], namespace: string): string[] {
    const users: string[] = [];
    for (const obj of objects) {
      if (!isJsonObject(obj) || !isJsonObject(obj.metadata)) continue;
      const name = String(obj.metadata.name ?? '');
      const ns = typeof obj.metadata.namespace === 'string' ? obj.metadata.namespace : namespace;
      if (obj.kind === 'Role' || obj.kind === 'ClusterRole') {
        const key = obj.kind === 'Role' ? `Role/${ns}/${name}` : `ClusterRole//${name}`;
        this.#roles.set(key, parseRules(obj.rules, `${obj.kind} ${name}`));
      } else if (obj.kind === 'RoleBinding' || obj.kind === 'ClusterRoleBinding') {
        const roleRef = isJsonObject(obj.roleRef) ? obj.roleRef : {};
        const roleKind = roleRef.kind === 'ClusterRole' ? 'ClusterRole' : 'Role';
        const subjects = Array.isArray(obj.subjects) ? obj.subjects.filter(isJsonObject) : [];
        const bound = subjects.map((s) =>
          s.kind === 'ServiceAccount'
            ? serviceAccountUser(typeof s.namespace === 'string' ? s.namespace : ns, String(s.name))
            : String(s.name),
        );
        this.#bindings.push({
          namespace: obj.kind === 'RoleBinding' ? ns : undefined,
          roleKind,
          roleName: String(roleRef.name ?? ''),
          users: bound,
        });
        users.push(...bound);
      }
    }
    return users;
  }

  /** Every user a loaded binding names. */
  users(): string[] {
    return [...new Set(this.#bindings.flatMap((b) => b.users))];
  }

  /** The token of a user (made on first use). */
  tokenFor(user: string): string {
    for (const [token, u] of this.#tokens) if (u === user) return token;
    const token = randomBytes(16).toString('hex');
    this.#tokens.set(token, user);
    return token;
  }

  /** The user of an `Authorization` header; 401 as the real server answers without valid credentials. */
  authenticate(header: string | undefined): string {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    const user = match?.[1] === undefined ? undefined : this.#tokens.get(match[1]);
    if (user === undefined) throw new KubeApiError(401, 'Unauthorized', 'Unauthorized');
    return user;
  }

  authorize(user: string, attrs: RequestAttributes): void {
    if (this.#admins.has(user) || this.allows(user, attrs)) return;
    const [plural = ''] = attrs.resource.split('/');
    const what =
      attrs.name === undefined
        ? qualifiedName(plural, attrs.group)
        : `${qualifiedName(plural, attrs.group)} "${attrs.name}"`;
    const where = attrs.namespace === undefined ? 'at the cluster scope' : `in the namespace "${attrs.namespace}"`;
    throw new KubeApiError(
      403,
      'Forbidden',
      `${what} is forbidden: User "${user}" cannot ${attrs.verb} resource "${attrs.resource}" in API group "${attrs.group}" ${where}`,
      { name: attrs.name, group: attrs.group || undefined, kind: plural },
    );
  }

  allows(user: string, attrs: RequestAttributes): boolean {
    return this.#bindings.some((b) => {
      if (!b.users.includes(user)) return false;
      // A RoleBinding grants in its namespace only; a request across all namespaces needs a ClusterRoleBinding.
      if (b.namespace !== undefined && b.namespace !== attrs.namespace) return false;
      const rules = this.#roles.get(
        b.roleKind === 'Role' ? `Role/${b.namespace}/${b.roleName}` : `ClusterRole//${b.roleName}`,
      );
      return (rules ?? []).some((r) => ruleAllows(r, attrs));
    });
  }
}

/**
 * What the authorizer is asked for a request (the server's RequestInfo), or undefined for a request
 * every authenticated user may make (discovery, version, OpenAPI).
 */
export function requestAttributes(method: string, route: Route, query: URLSearchParams): RequestAttributes | undefined {
  if (route.kind === 'namespace') {
    return {
      verb: route.namespace === undefined ? 'list' : 'get',
      group: '',
      resource: 'namespaces',
      namespace: undefined,
      name: route.namespace,
    };
  }
  if (route.kind !== 'resource') return undefined;
  const { resource, namespace, name, subresource } = route;
  const watching = method === 'GET' && (route.legacyWatch || queryFlag(query, 'watch'));
  const verb = watching ? 'watch' : verbOf(method, name !== undefined);
  return {
    verb,
    group: resource.group,
    resource: subresource === undefined ? resource.plural : `${resource.plural}/${subresource}`,
    namespace,
    name,
  };
}

const VERBS: Record<string, [collection: string, object: string]> = {
  GET: ['list', 'get'],
  POST: ['create', 'create'],
  PUT: ['update', 'update'],
  PATCH: ['patch', 'patch'],
  DELETE: ['deletecollection', 'delete'],
};

function verbOf(method: string, named: boolean): string {
  const verbs = VERBS[method];
  if (verbs === undefined) return method.toLowerCase();
  return named ? verbs[1] : verbs[0];
}

export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  const has = (list: readonly string[] | undefined, v: string) => (list ?? []).some((x) => x === '*' || x === v);
  if (!has(rule.verbs, a.verb) || !has(rule.apiGroups, a.group) || !has(rule.resources, a.resource)) return false;
  // resourceNames restrict requests that name an object; a list, watch or create names none and never matches.
  if (rule.resourceNames !== undefined && rule.resourceNames.length > 0) {
    return a.name !== undefined && rule.resourceNames.includes(a.name);
  }
  return true;
}

function parseRules(raw: unknown, where: string): PolicyRule[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new Error(`${where}: rules must be a list`);
  const strings = (v: unknown, field: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
      throw new Error(`${where}: ${field} must be a list of strings`);
    }
    return v;
  };
  return raw.filter(isJsonObject).map((r) => ({
    apiGroups: strings(r.apiGroups, 'apiGroups'),
    resources: strings(r.resources, 'resources'),
    verbs: strings(r.verbs, 'verbs'),
    ...(r.resourceNames === undefined ? {} : { resourceNames: strings(r.resourceNames, 'resourceNames') }),
  }));
}
