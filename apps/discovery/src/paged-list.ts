import type { CoreV1Api, V1PodList } from '@kubernetes/client-node';
import { statusCodeOf } from './kube-client.ts';

/**
 * One list of the pods matching a selector, in pages of `pageSize` (`limit`/`continue`), as client-go's
 * reflector lists: a large pool is not one multi-megabyte response, and every page comes from the snapshot
 * the first page was cut from (the API server serves later pages at the first page's resourceVersion), so
 * the pages add up to one consistent list with that resourceVersion to watch from.
 *
 * A continue token the server no longer honours (410 Expired: the snapshot was compacted while paging)
 * cannot be resumed consistently; like client-go, the list then starts over in one unpaginated request
 * rather than mixing pages of two snapshots (which could drop or resurrect pods).
 */
export async function listPodsPaged(
  core: CoreV1Api,
  /** undefined: every namespace. */
  namespace: string | undefined,
  labelSelector: string,
  pageSize: number,
): Promise<V1PodList> {
  const list = (page: { limit?: number; _continue?: string }) =>
    namespace === undefined
      ? core.listPodForAllNamespaces({ labelSelector, ...page })
      : core.listNamespacedPod({ namespace, labelSelector, ...page });
  const first = await list({ limit: pageSize });
  const items = [...first.items];
  let token = first.metadata?._continue;
  try {
    while (token) {
      const page = await list({ limit: pageSize, _continue: token });
      items.push(...page.items);
      token = page.metadata?._continue;
    }
  } catch (err) {
    if (statusCodeOf(err) !== 410) throw err;
    return list({});
  }
  const { _continue: _dropped, remainingItemCount: _count, ...metadata } = first.metadata ?? {};
  return { ...first, metadata, items };
}
