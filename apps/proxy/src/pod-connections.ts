// A pod's keep-alive connections: undici Clients (one connection each, one request at a time), a new one
// when every one is busy, up to --connections-per-pod. undici's Pool does the same with a 2,048-slot
// request queue per pool (16 KiB of heap before its first connection); at 10,000 pods those queues
// alone are 160 MB of a proxy's heap, and the garbage collector's pauses grow with it. Here a pod costs its
// Clients. When --connections-per-pod is reached, a request waits on the least busy connection (Pool
// would give it to whichever frees first: the same for requests of similar length).
import { Client, Dispatcher } from 'undici';

export class PodConnections extends Dispatcher {
  readonly #origin: string;
  readonly #options: Client.Options;
  readonly #max: number;
  #clients: Client[] = [];
  /** Connections with a request in flight, until their 'drain'. */
  readonly #busy = new Set<Client>();
  #closed = false;

  constructor(origin: string, options: Client.Options & { connections?: number | null }) {
    super();
    const { connections, ...clientOptions } = options;
    this.#origin = origin;
    this.#options = clientOptions;
    this.#max = connections ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Hands the request to a connection. A connection whose dispatch says it needs a drain (its one
   * request in flight) is marked busy until its 'drain', as in undici's Pool. Always true: past the
   * limit a request queues on a connection, so the caller never has to wait for a drain of this one.
   */
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.#closed) throw new Error(`connections to ${this.#origin} are closed`);
    const client = this.#pick();
    if (!client.dispatch(options, handler)) this.#busy.add(client);
    return true;
  }

  /** Requests running and waiting over all connections. */
  get stats(): { running: number; pending: number } {
    let running = 0;
    let pending = 0;
    for (const c of this.#clients) {
      const s = c.stats;
      running += s.running;
      pending += s.pending;
    }
    return { running, pending };
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | undefined {
    this.#closed = true;
    const clients = this.#clients;
    this.#clients = [];
    this.#busy.clear();
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
    this.#busy.clear();
    const done = Promise.all(clients.map((c) => c.destroy(err))).then(() => undefined);
    if (callback === undefined) return done;
    void done.then(callback);
    return undefined;
  }

  /**
   * A connection marked free, else a busy-marked one that has finished (its 'drain' comes in a later
   * microtask than the response's end), else a new one while under the limit, else the least queued.
   */
  #pick(): Client {
    let gone = false;
    for (const c of this.#clients) {
      if (c.destroyed) gone = true;
      else if (!this.#busy.has(c)) return c;
    }
    if (gone) {
      for (const c of this.#clients) if (c.destroyed) this.#busy.delete(c);
      this.#clients = this.#clients.filter((c) => !c.destroyed);
    }
    let least: Client | undefined;
    let leastSize = Number.POSITIVE_INFINITY;
    for (const c of this.#clients) {
      const size = c.stats.size;
      if (size === 0) {
        this.#busy.delete(c);
        return c;
      }
      if (size < leastSize) {
        least = c;
        leastSize = size;
      }
    }
    if (least === undefined || this.#clients.length < this.#max) return this.#open();
    // Every connection busy at the limit: the request waits on the least queued.
    return least;
  }

  #open(): Client {
    const client = new Client(this.#origin, this.#options);
    client.on('drain', () => {
      // A drain may trail the client's next dispatch: only a client with nothing left is free.
      if (client.stats.size > 0) return;
      this.#busy.delete(client);
    });
    this.#clients.push(client);
    return client;
  }
}
