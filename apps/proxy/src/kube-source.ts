// Members from the proxy's own watch of Kubernetes pods (--service-discovery, vllm-router's flags): one
// replica, no NATS. The pod set comes from apps/discovery's PodInformer (list then watch, resume, relist on
// 410, backoff after API errors) and its membership rules (Running, Ready, not terminating, with an IP),
// so the proxy and the discovery service agree on which pod serves. Every change becomes a snapshot with a
// growing seq; the proxy's diff-based apply turns a one-pod change into a one-pod ring update.

import type { Member, Role, Snapshot } from '@pdrouter/core';
import { parseSnapshot, ROLES } from '@pdrouter/core';
import {
  DEFAULT_LIST_PAGE_SIZE,
  DEFAULT_WATCH_TIMEOUT_SECS,
  Debouncer,
  type KubeConfig,
  loadDefaultKubeConfig,
  membersOf,
  PodInformer,
  WATCH_BACKOFF_JITTER,
} from '@pdrouter/discovery';
import {
  DISCOVERY_BOOTSTRAP_PORT_ANNOTATION,
  DISCOVERY_PORT_ANNOTATION,
  type KubernetesMembership,
} from './config-discovery.ts';
import { expandDataParallel, type SnapshotSource } from './snapshot-source.ts';

/** How long start() waits for the first complete list before resolving anyway (it keeps trying afterwards). */
export const KUBE_FIRST_SYNC_WAIT_MS = 10_000;
/** Pod events arriving together (a rollout) become one snapshot. */
export const KUBE_DEBOUNCE_MS = 50;
/**
 * The API server ends each watch after this long (with a bookmark); client-node resumes it from there.
 * Discovery's default: under client-node's 30 s inactivity abort.
 */
export const KUBE_WATCH_TIMEOUT_SECS = DEFAULT_WATCH_TIMEOUT_SECS;
/** Backoff after an API error (doubling with jitter up to the max). vllm-router starts at 1 s, caps at 300 s. */
export const KUBE_BACKOFF_MIN_MS = 500;
export const KUBE_BACKOFF_MAX_MS = 30_000;

export interface KubernetesSourceOptions {
  readonly pool: string;
  readonly membership: KubernetesMembership;
  /** --intra-node-data-parallel-size: each pod becomes N members url@0..url@N-1, as static URLs do. */
  readonly dataParallelSize: number;
  /** Default: $KUBECONFIG, ~/.kube/config, else the in-cluster service account. */
  readonly kubeConfig?: KubeConfig;
  readonly debounceMs?: number;
  readonly firstSyncWaitMs?: number;
  readonly onWatchRestart?: (role: Role, reason: string) => void;
}

export function kubernetesSnapshotSource(options: KubernetesSourceOptions): SnapshotSource {
  const m = options.membership;
  const where = m.namespace === undefined ? 'all namespaces' : `namespace ${m.namespace}`;
  const selectors: [Role, string][] = [];
  for (const role of ROLES) {
    const selector = m.selectors[role];
    if (selector !== undefined) selectors.push([role, selector]);
  }
  const informers = new Map<Role, PodInformer>();
  const membershipOptions = {
    targetPort: m.port,
    portAnnotation: DISCOVERY_PORT_ANNOTATION,
    bootstrapPortAnnotation: DISCOVERY_BOOTSTRAP_PORT_ANNOTATION,
  };
  // Epoch: this process's start; seq grows with every change, so RouterState takes each one as newer.
  const epoch = Date.now();
  let seq = 0;
  let debouncer: Debouncer | undefined;
  let closed = false;

  const membersNow = (): Snapshot['members'] => {
    const members: Record<Role, Member[]> = { prefill: [], decode: [], plain: [] };
    for (const [role, informer] of informers) members[role] = membersOf(informer.pods(), membershipOptions);
    // vllm-router classifies a pod matching both selectors as prefill; the decode ring does not get it too.
    const prefillUids = new Set(members.prefill.map((p) => p.uid || p.name));
    members.decode = members.decode.filter((p) => !prefillUids.has(p.uid || p.name));
    return members;
  };

  return {
    description: `kubernetes ${where} ${selectors.map(([role, s]) => `${role}=${JSON.stringify(s)}`).join(' ')}`,
    async start(apply, reject) {
      const kubeConfig = options.kubeConfig ?? loadDefaultKubeConfig();
      const publish = (): void => {
        if (closed || ![...informers.values()].every((i) => i.synced)) return;
        const candidate: Snapshot = {
          pool: options.pool,
          epoch,
          seq: seq++,
          time: new Date().toISOString(),
          members: membersNow(),
        };
        const parsed = parseSnapshot(candidate);
        if (!parsed.ok) {
          reject(`kubernetes: ${parsed.error}`, 'invalid');
          return;
        }
        apply(expandDataParallel(parsed.snapshot, options.dataParallelSize));
      };
      const debounce = new Debouncer(options.debounceMs ?? KUBE_DEBOUNCE_MS, publish);
      debouncer = debounce;
      let firstSync: (() => void) | undefined;
      const synced = new Promise<void>((resolve) => {
        firstSync = resolve;
      });
      for (const [role, labelSelector] of selectors) {
        informers.set(
          role,
          new PodInformer({
            kubeConfig,
            namespace: m.namespace,
            labelSelector,
            watchTimeoutSecs: KUBE_WATCH_TIMEOUT_SECS,
            listPageSize: DEFAULT_LIST_PAGE_SIZE,
            onChange: () => {
              if ([...informers.values()].every((i) => i.synced)) {
                // The first complete list is applied at once, so start() hands over a routable ring.
                if (firstSync !== undefined) {
                  firstSync();
                  firstSync = undefined;
                  publish();
                } else debounce.trigger();
              }
            },
            backoff: {
              initialMs: KUBE_BACKOFF_MIN_MS,
              maxMs: KUBE_BACKOFF_MAX_MS,
              multiplier: 2,
              jitterFactor: WATCH_BACKOFF_JITTER,
            },
            onWatchRestart: (reason) => options.onWatchRestart?.(role, reason),
            onError: (err, nextDelayMs) =>
              reject(`kubernetes ${role} pods (${labelSelector}): ${errorText(err)}; retrying in ${nextDelayMs} ms`),
          }),
        );
      }
      for (const informer of informers.values()) informer.start();
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          if (firstSync !== undefined) reject(`kubernetes: pods in ${where} not listed yet; still trying`);
          resolve();
        }, options.firstSyncWaitMs ?? KUBE_FIRST_SYNC_WAIT_MS);
        timer.unref();
      });
      await Promise.race([synced, waited]);
      clearTimeout(timer);
    },
    async close() {
      closed = true;
      debouncer?.cancel();
      await Promise.all([...informers.values()].map((i) => i.stop()));
    },
  };
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.code;
  return typeof code === 'number' ? `HTTP ${code}` : String(err);
}
