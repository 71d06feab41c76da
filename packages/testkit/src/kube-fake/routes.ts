import { RESOURCES, type ResourceType } from './resources.ts';

/** Where a request path points: a discovery document, or a resource collection / object / subresource. */
export type Route =
  | { kind: 'discovery'; path: string }
  | { kind: 'namespace'; namespace: string | undefined }
  | {
      kind: 'resource';
      resource: ResourceType;
      /** undefined = across all namespaces (only for list and watch). */
      namespace: string | undefined;
      name: string | undefined;
      subresource: string | undefined;
      /** The deprecated /watch/ path prefix was used. */
      legacyWatch: boolean;
    }
  | { kind: 'unknown' };

export function parseRoute(pathname: string): Route {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api') {
    if (parts.length <= 2) return { kind: 'discovery', path: pathname };
    group = '';
    version = parts[1] ?? '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    if (parts.length <= 3) return { kind: 'discovery', path: pathname };
    group = parts[1] ?? '';
    version = parts[2] ?? '';
    rest = parts.slice(3);
  } else {
    return { kind: 'discovery', path: pathname };
  }
  let legacyWatch = false;
  if (rest[0] === 'watch') {
    legacyWatch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces') {
    if (group === '' && rest.length <= 2 && !legacyWatch) return { kind: 'namespace', namespace: rest[1] };
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  if (!plural || extra.length > 0) return { kind: 'unknown' };
  const resource = RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
  if (!resource) return { kind: 'unknown' };
  if (name !== undefined && namespace === undefined) return { kind: 'unknown' };
  return { kind: 'resource', resource, namespace, name, subresource, legacyWatch };
}
