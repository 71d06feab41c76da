import type { V1Pod } from '@kubernetes/client-node';
import { backoffDelayMs, realSleep, type SleepFn } from './backoff.ts';

/** What the informer needs from the Kubernetes API (implemented over @kubernetes/client-node in kube-client.ts). */
export interface PodListWatch {
  list(): Promise<{ pods: V1Pod[]; resourceVersion: string }>;
  /**
   * Starts a watch from `resourceVersion`. `onEvent` gets each event; `onDone` is called once when the
   * stream ends (err undefined for a normal server-side close). Resolves once the request is under way.
   */
  watch(
    resourceVersion: string,
    onEvent: (type: string, object: unknown) => void,
    onDone: (err?: unknown) => void,
  ): Promise<{ abort(): void }>;
}

export interface PodInformerOptions {
  readonly source: PodListWatch;
  /** Called after every change of the pod set (and after each relist); the caller debounces. */
  readonly onChange: () => void;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly sleep?: SleepFn;
  /** Called whenever the watch is re-established: `reason` is closed | expired | error. */
  readonly onWatchRestart?: (reason: 'closed' | 'expired' | 'error') => void;
  readonly onError?: (err: unknown, nextDelayMs: number) => void;
}

/** A watch that ended sooner than this after starting counts as a failure, so a flapping server is backed off. */
export const MIN_HEALTHY_WATCH_MS = 1_000;

type WatchOutcome = { kind: 'closed'; healthy: boolean } | { kind: 'expired' } | { kind: 'error'; err: unknown };

/**
 * List + watch over one label selector, keeping the pods by uid. A watch that ends normally resumes from the
 * last resourceVersion seen (events and bookmarks advance it); 410 Gone (as an ERROR event or an HTTP status)
 * triggers a relist that replaces the store in one step, so pods that still exist never disappear in
 * between. API errors back off from backoffMinMs to backoffMaxMs.
 */
export class PodInformer {
  readonly #options: PodInformerOptions;
  readonly #sleep: SleepFn;
  readonly #pods = new Map<string, V1Pod>();
  readonly #stopController = new AbortController();
  #synced = false;
  #resourceVersion = '';
  #currentWatch: { abort(): void } | undefined;
  #endCurrentWatch: (() => void) | undefined;
  #running: Promise<void> | undefined;

  constructor(options: PodInformerOptions) {
    this.#options = options;
    this.#sleep = options.sleep ?? realSleep;
  }

  /** True once the first list has succeeded. */
  get synced(): boolean {
    return this.#synced;
  }

  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  pods(): IterableIterator<V1Pod> {
    return this.#pods.values();
  }

  start(): void {
    this.#running ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopController.abort();
    this.#currentWatch?.abort();
    this.#endCurrentWatch?.();
    await this.#running;
  }

  async #run(): Promise<void> {
    const signal = this.#stopController.signal;
    let needList = true;
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.#relist();
          needList = false;
        }
        const outcome = await this.#watchOnce();
        if (signal.aborted) break;
        if (outcome.kind === 'expired') {
          needList = true;
          this.#options.onWatchRestart?.('expired');
          continue;
        }
        if (outcome.kind === 'error') throw outcome.err;
        this.#options.onWatchRestart?.('closed');
        if (outcome.healthy) {
          failures = 0;
          continue;
        }
        failures++;
      } catch (err) {
        if (signal.aborted) break;
        if (statusCodeOf(err) === 410) {
          needList = true;
          this.#options.onWatchRestart?.('expired');
          continue;
        }
        failures++;
        const delay = backoffDelayMs(failures, this.#options.backoffMinMs, this.#options.backoffMaxMs);
        this.#options.onError?.(err, delay);
        await this.#sleep(delay, signal);
        if (!needList) this.#options.onWatchRestart?.('error');
        continue;
      }
      // A normal close that came too soon: back off a little before resuming.
      await this.#sleep(backoffDelayMs(failures, this.#options.backoffMinMs, this.#options.backoffMaxMs), signal);
    }
  }

  async #relist(): Promise<void> {
    const { pods, resourceVersion } = await this.#options.source.list();
    this.#pods.clear();
    for (const pod of pods) {
      const key = podKey(pod);
      if (key !== undefined) this.#pods.set(key, pod);
    }
    this.#resourceVersion = resourceVersion;
    this.#synced = true;
    this.#options.onChange();
  }

  #watchOnce(): Promise<WatchOutcome> {
    const startedAt = Date.now();
    return new Promise<WatchOutcome>((resolve) => {
      let settled = false;
      const finish = (outcome: WatchOutcome): void => {
        if (settled) return;
        settled = true;
        this.#currentWatch?.abort();
        this.#currentWatch = undefined;
        this.#endCurrentWatch = undefined;
        resolve(outcome);
      };
      this.#endCurrentWatch = () => finish({ kind: 'closed', healthy: true });
      const onEvent = (type: string, object: unknown): void => {
        if (settled) return;
        const outcome = this.#apply(type, object);
        if (outcome !== undefined) finish(outcome);
      };
      const onDone = (err?: unknown): void => {
        if (err === undefined || err === null || isTimeout(err)) {
          // The server (or the client's inactivity timer) ended the stream: resume from the last version.
          finish({ kind: 'closed', healthy: Date.now() - startedAt >= MIN_HEALTHY_WATCH_MS });
        } else if (statusCodeOf(err) === 410) {
          finish({ kind: 'expired' });
        } else {
          finish({ kind: 'error', err });
        }
      };
      this.#options.source.watch(this.#resourceVersion, onEvent, onDone).then(
        (handle) => {
          if (settled) handle.abort();
          else this.#currentWatch = handle;
        },
        (err: unknown) => finish(statusCodeOf(err) === 410 ? { kind: 'expired' } : { kind: 'error', err }),
      );
    });
  }

  /** Applies one watch event; returns an outcome when the event ends this watch. */
  #apply(type: string, object: unknown): WatchOutcome | undefined {
    if (type === 'ERROR') {
      const status = object as { code?: number; message?: string } | undefined;
      if (status?.code === 410) return { kind: 'expired' };
      return { kind: 'error', err: new Error(`watch error ${status?.code ?? '?'}: ${status?.message ?? 'unknown'}`) };
    }
    const pod = object as V1Pod;
    const rv = pod?.metadata?.resourceVersion;
    if (rv) this.#resourceVersion = rv;
    if (type === 'BOOKMARK') return undefined;
    const key = podKey(pod);
    if (key === undefined) return undefined;
    if (type === 'ADDED' || type === 'MODIFIED') this.#pods.set(key, pod);
    else if (type === 'DELETED') this.#pods.delete(key);
    else return undefined;
    this.#options.onChange();
    return undefined;
  }
}

function podKey(pod: V1Pod | undefined): string | undefined {
  const m = pod?.metadata;
  if (!m) return undefined;
  return m.uid || (m.name ? `${m.namespace ?? ''}/${m.name}` : undefined);
}

export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}

function isTimeout(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: string }).name === 'TimeoutError';
}
