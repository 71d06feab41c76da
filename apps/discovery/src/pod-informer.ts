import {
  CoreV1Api,
  type Informer,
  type KubeConfig,
  ListWatch,
  makeInformer,
  type ObjectCache,
  type V1Pod,
} from '@kubernetes/client-node';
import { Backoff, type BackoffOptions } from '@pdrouter/core';
import { type Clock, realClock } from './clock.ts';
import { listPodsPaged } from './paged-list.ts';

export interface PodInformerOptions {
  readonly kubeConfig: KubeConfig;
  /** undefined: every namespace (a cluster-wide list and watch; RBAC must allow it). */
  readonly namespace: string | undefined;
  readonly labelSelector: string;
  /**
   * Asks the API server to end each watch after this long; client-node then resumes it. Below client-node's
   * 30 s inactivity abort, so a quiet watch ends on the server's bookmark rather than being cut without one.
   */
  readonly watchTimeoutSecs: number;
  /** Pods per page of a list (limit/continue). */
  readonly listPageSize: number;
  /** Called after every change of the pod set (and after each list); the caller debounces. */
  readonly onChange: () => void;
  /** Restarts after an API error; multiplier and jitter included. */
  readonly backoff: BackoffOptions;
  readonly clock?: Clock;
  /** Called whenever the watch is re-established: `reason` is closed | expired | error. */
  readonly onWatchRestart?: (reason: WatchRestartReason) => void;
  readonly onError?: (err: unknown, nextDelayMs: number) => void;
}

/**
 * Server-side watch duration: under client-node's 30 s inactivity abort (its Watch resets a 30 s timer on
 * every chunk), so a quiet watch ends on the bookmark the API server sends just before the deadline and
 * resumes from a fresh resourceVersion. The server's periodic bookmarks come only about once a minute.
 */
export const DEFAULT_WATCH_TIMEOUT_SECS = 20;
export const MAX_WATCH_TIMEOUT_SECS = 25;
/** Pods per list page, as client-go's reflector pages. */
export const DEFAULT_LIST_PAGE_SIZE = 500;

export type WatchRestartReason = 'closed' | 'expired' | 'error';

/** A watch that failed sooner than this after (re)starting keeps growing the backoff; a longer one resets it. */
export const MIN_HEALTHY_WATCH_MS = 1_000;

/**
 * The pods matching one label selector, kept by client-node's informer (list, then watch from the list's
 * resourceVersion; a watch the server or the client's inactivity timer ends resumes from the last version
 * seen; 410 Gone relists and replaces the cache without dropping pods that still exist).
 *
 * What the informer does not do is recover from an API error: it reports it and stops. This class is the
 * restart loop around it, with backoff and jitter (so a fleet of replicas does not hammer a recovering
 * API server in step), resuming from the last resourceVersion when there is one.
 */
export class PodInformer {
  readonly #o: PodInformerOptions;
  readonly #clock: Clock;
  readonly #informer: Informer<V1Pod> & ObjectCache<V1Pod>;
  readonly #backoff: Backoff;
  readonly #stop = new AbortController();
  #synced = false;
  #connects = 0;
  #restartingAfterError = false;
  #failedDuringRestart: unknown;
  #restarting: Promise<void> | undefined;
  #startedAt = 0;
  #lists = 0;

  constructor(options: PodInformerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    this.#backoff = new Backoff(options.backoff);
    const core = options.kubeConfig.makeApiClient(CoreV1Api);
    const namespace = options.namespace;
    const labelSelector = options.labelSelector;
    const listFn = async () => {
      const list = await listPodsPaged(core, namespace, labelSelector, options.listPageSize);
      this.#lists++;
      // The informer fills its cache from this list right after the promise resolves, in the same tick:
      // the next macrotask sees the whole list (also when it is empty, which fires no add event).
      setImmediate(() => {
        if (this.#stop.signal.aborted) return;
        this.#synced = true;
        this.#o.onChange();
      });
      return list;
    };
    // The informer's watch takes no options beyond the selector; the watch URL keeps a query already in
    // the path, which is how the server-side timeout and bookmarks (they keep the resourceVersion fresh
    // on a quiet selector, so a resumed watch rarely needs a relist) are asked for.
    const collection =
      namespace === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
    const path = `${collection}?allowWatchBookmarks=true&timeoutSeconds=${options.watchTimeoutSecs}`;
    this.#informer = makeInformer<V1Pod>(options.kubeConfig, path, listFn, options.labelSelector);
    const changed = (): void => {
      if (!this.#stop.signal.aborted) this.#o.onChange();
    };
    this.#informer.on('add', changed);
    this.#informer.on('update', changed);
    this.#informer.on('delete', changed);
    this.#informer.on('connect', () => this.#onConnect());
    this.#informer.on('error', (err: unknown) => this.#onError(err));
  }

  /** True once the first list has been applied. */
  get synced(): boolean {
    return this.#synced;
  }

  /** Successful lists so far: one at start, one more per relist (410 Gone). */
  get lists(): number {
    return this.#lists;
  }

  /** The last resourceVersion seen ('' before the first list and right after a 410 Gone). */
  get resourceVersion(): string {
    // makeInformer returns client-node's ListWatch, whose type carries the accessor.
    return this.#informer instanceof ListWatch ? this.#informer.latestResourceVersion() : '';
  }

  pods(): readonly V1Pod[] {
    return this.#informer.list(this.#o.namespace);
  }

  start(): void {
    this.#startedAt = this.#clock.now();
    void this.#informer.start();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#informer.stop();
    await this.#restarting;
  }

  #onConnect(): void {
    this.#connects++;
    if (this.#connects === 1 || this.#stop.signal.aborted) return;
    let reason: WatchRestartReason;
    if (this.#restartingAfterError) reason = 'error';
    else if (this.resourceVersion === '') reason = 'expired';
    else reason = 'closed';
    this.#restartingAfterError = false;
    this.#o.onWatchRestart?.(reason);
  }

  #onError(err: unknown): void {
    if (this.#stop.signal.aborted) return;
    if (this.#restarting !== undefined) {
      // The restart in progress failed again; its loop picks this up.
      this.#failedDuringRestart = err;
      return;
    }
    this.#restarting = this.#restartLoop(err).finally(() => {
      this.#restarting = undefined;
      // An error reported between the loop's last check and here starts the next round.
      const late = this.#failedDuringRestart;
      this.#failedDuringRestart = undefined;
      if (late !== undefined) this.#onError(late);
    });
  }

  async #restartLoop(firstErr: unknown): Promise<void> {
    let err: unknown = firstErr;
    const signal = this.#stop.signal;
    while (err !== undefined && !signal.aborted) {
      if (this.#clock.now() - this.#startedAt >= MIN_HEALTHY_WATCH_MS) this.#backoff.reset();
      const delay = this.#backoff.next();
      this.#o.onError?.(err, delay);
      await this.#clock.sleep(delay, signal);
      if (signal.aborted) return;
      this.#failedDuringRestart = undefined;
      this.#restartingAfterError = true;
      this.#startedAt = this.#clock.now();
      // Resumes from the last resourceVersion, or lists again when there is none yet.
      await this.#informer.start();
      err = this.#failedDuringRestart;
      this.#failedDuringRestart = undefined;
    }
  }
}
