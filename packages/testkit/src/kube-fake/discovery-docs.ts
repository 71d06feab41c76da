import { RESOURCE_VERBS, RESOURCES, type ResourceType, STATUS_VERBS } from './resources.ts';

/**
 * The discovery documents clients read before anything else (kubectl maps `get pods` to a URL with
 * them): https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api (the legacy,
 * unaggregated form, which every kubectl still accepts).
 */

export const FAKE_SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-pdrouter-fake',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export function apiVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groups(): Map<string, ResourceType[]> {
  const byGroup = new Map<string, ResourceType[]>();
  for (const r of RESOURCES) {
    if (!r.group) continue;
    byGroup.set(r.group, [...(byGroup.get(r.group) ?? []), r]);
  }
  return byGroup;
}

function groupDoc(name: string, version: string) {
  const gv = { groupVersion: `${name}/${version}`, version };
  return { name, versions: [gv], preferredVersion: gv };
}

export function apiGroupList() {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups()].map(([name, resources]) => groupDoc(name, resources[0]?.version ?? 'v1')),
  };
}

/** /apis/{group}: undefined when the fake does not serve that group. */
export function apiGroup(group: string) {
  const resources = groups().get(group);
  if (!resources) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group, resources[0]?.version ?? 'v1') };
}

/** /api/v1 or /apis/{group}/{version}: undefined when not served. */
export function apiResourceList(group: string, version: string) {
  const resources = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (resources.length === 0) return undefined;
  const list = resources.flatMap((r) => {
    const main = {
      name: r.plural,
      singularName: r.singular,
      namespaced: true,
      kind: r.kind,
      verbs: RESOURCE_VERBS,
      ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length ? { categories: r.categories } : {}),
    };
    const status = {
      name: `${r.plural}/status`,
      singularName: '',
      namespaced: true,
      kind: r.kind,
      verbs: STATUS_VERBS,
    };
    return r.statusSubresource ? [main, status] : [main];
  });
  return {
    kind: 'APIResourceList',
    ...(group ? { apiVersion: 'v1' } : {}),
    groupVersion: group ? `${group}/${version}` : version,
    resources: list,
  };
}
