// A pod's keep-alive connections: undici Clients (one connection each, one request at a time), a new one
// when every one is busy, up to --connections-per-pod. undici's Pool does the same with a 2,048-slot
// request queue per pool (some 16 KiB of heap before its first connection); at 10,000 pods that queue
// alone is most of a proxy's heap, and the garbage collector's pauses grow with it. Here a pod costs its
// Clients. When --connections-per-pod is reached, a request waits on the least busy connection (Pool
// would give it to whichever frees first: the same for requests of similar length).
import { Client, Dispatcher } from 'undici';

export class PodConnections extends Dispatcher {
  readonly #origin: string;
  readonly #options: Client.Options;
  readonly #max: number;
  #clients: Client[] = [];
  #closed = false;

  constructor(origin: string, options: Client.Options & { connections?: number | null }) {
    super();
    const { connections, ...clientOptions } = options;
    this.#origin = origin;
    this.#options = clientOptions;
    this.#max = connections ?? Number.POSITIVE_INFINITY;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.#closed) throw new Error(`connections to ${this.#origin} are closed`);
    return this.#pick().dispatch(options, handler);
  }

  /** Requests running and waiting over all connections (what Pool's stats say). */
  get stats(): { running: number; pending: number; queued: number; connections: number } {
    let running = 0;
    let pending = 0;
    for (const c of this.#clients) {
      const s = c.stats;
      running += s.running;
      pending += s.pending;
    }
    return { running, pending, queued: 0, connections: this.#clients.length };
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | undefined {
    this.#closed = true;
    const clients = this.#clients;
    this.#clients = [];
    const done = Promise.all(clients.map((c) => c.close())).then(() => undefined);
    if (callback === undefined) return done;
    void done.then(callback);
    return undefined;
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | undefined {
    const err = typeof a === 'function' ? null : (a ?? null);
    const callback = typeof a === 'function' ? a : b;
    this.#closed = true;
    const clients = this.#clients;
    this.#clients = [];
    const done = Promise.all(clients.map((c) => c.destroy(err))).then(() => undefined);
    if (callback === undefined) return done;
    void done.then(callback);
    return undefined;
  }

  /** An idle connection, else a new one while under the limit, else the least busy. */
  #pick(): Client {
    let least: Client | undefined;
    let leastSize = Number.POSITIVE_INFINITY;
    let gone = false;
    for (const c of this.#clients) {
      if (c.closed || c.destroyed) {
        gone = true;
        continue;
      }
      const size = c.stats.size;
      if (size === 0) return c;
      if (size < leastSize) {
        least = c;
        leastSize = size;
      }
    }
    if (gone) this.#clients = this.#clients.filter((c) => !c.closed && !c.destroyed);
    if (least === undefined || this.#clients.length < this.#max) {
      const client = new Client(this.#origin, this.#options);
      this.#clients.push(client);
      return client;
    }
    return least;
  }
}
