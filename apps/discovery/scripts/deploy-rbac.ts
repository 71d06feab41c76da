// Discovery's permissions in the API fake are the ones deploy/ ships: the Role and RoleBinding files are
// loaded into the fake's RBAC table, and discovery authenticates as the ServiceAccount they bind. A request
// the Role does not grant fails in the tests as it would in a cluster.
import { join } from 'node:path';
import { type KubeApiFake, readManifests, serviceAccountUser } from '@pdrouter/testkit';

const DEPLOY_DISCOVERY = join(import.meta.dirname, '../../../deploy/k8s/base/discovery');
export const DISCOVERY_RBAC_FILES = [join(DEPLOY_DISCOVERY, 'role.yaml'), join(DEPLOY_DISCOVERY, 'role-binding.yaml')];
/** The ServiceAccount deploy/ runs discovery as (the RoleBinding's subject). */
export const DISCOVERY_SERVICE_ACCOUNT = 'pdrouter-discovery';
/** The Lease deploy/'s Role names: the only one discovery may get or update. */
export const DISCOVERY_LEASE = 'pdrouter-discovery';

export function discoveryRbac(): unknown[] {
  return readManifests(...DISCOVERY_RBAC_FILES);
}

/**
 * A kubeconfig authenticating as discovery's ServiceAccount in `namespace` (default the fake's), loading
 * deploy/'s Role and RoleBinding into that namespace first if they are not there yet.
 */
export function discoveryKubeconfig(api: KubeApiFake, namespace: string = api.namespace): string {
  const user = serviceAccountUser(namespace, DISCOVERY_SERVICE_ACCOUNT);
  if (!api.users().includes(user)) api.loadRbac(discoveryRbac(), namespace);
  return api.kubeconfigFor(user, { namespace });
}
