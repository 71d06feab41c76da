import type { ServerResponse } from 'node:http';
import { apiVersionOf, type ResourceType, resourceKey } from './resources.ts';
import type { ObjectPredicate } from './selectors.ts';
import { badRequest, expired, KubeApiError } from './status.ts';
import type { ObjectStore, StoreEvent } from './store.ts';
import type { JsonObject, KubeObject } from './types.ts';

/**
 * One watch: newline-delimited JSON events over a chunked HTTP response, as the API server streams
 * them (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes).
 * Events are filtered like the server's watch cache does: an object that starts matching the
 * selectors arrives as ADDED, one that stops matching as DELETED.
 */

export type WatchEventOut = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: unknown };

export interface WatchRequest {
  resource: ResourceType;
  /** undefined = all namespaces. */
  namespace: string | undefined;
  matches: ObjectPredicate;
  /** The `resourceVersion` query parameter as sent (undefined, '', '0' or a number). */
  resourceVersion: string | undefined;
  allowBookmarks: boolean;
  /** Server-side end of the watch in seconds (already capped by the server's maximum). */
  timeoutSeconds: number;
  bookmarkIntervalMs: number;
  /** Optional re-encoding of each object (server-side Table output for kubectl). */
  render?: (obj: KubeObject, eventType: WatchEventOut['type']) => unknown;
}

export class ActiveWatch {
  readonly #res: ServerResponse;
  readonly #timers: NodeJS.Timeout[] = [];
  #unsubscribe: (() => void) | undefined;
  #closed = false;
  readonly #onClose: (w: ActiveWatch) => void;
  readonly request: WatchRequest;

  constructor(res: ServerResponse, request: WatchRequest, onClose: (w: ActiveWatch) => void) {
    this.#res = res;
    this.request = request;
    this.#onClose = onClose;
    res.once('close', () => this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts streaming: replays what the client missed (or the current state), then follows the store. */
  start(store: ObjectStore): void {
    const { request } = this;
    const rv = request.resourceVersion;
    const fromLatest = rv === undefined || rv === '' || rv === '0';
    const from = fromLatest ? 0 : Number(rv);
    if (!fromLatest && (!Number.isSafeInteger(from) || from < 0)) {
      throw badRequest(`invalid resource version: ${JSON.stringify(rv)}`);
    }
    this.#res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    this.#res.flushHeaders();

    let backlog: StoreEvent[] = [];
    if (fromLatest) {
      // "Get state and start at most recent": synthetic ADDED events for what exists now.
      for (const obj of store.list(request.resource, request.namespace)) {
        if (request.matches(obj)) this.#send('ADDED', obj);
      }
    } else {
      try {
        backlog = store.eventsAfter(from);
      } catch (err) {
        // The real server answers 200 and then an ERROR event carrying the 410 Status, then ends.
        if (err instanceof KubeApiError) this.expire(err);
        else throw err;
        return;
      }
    }
    for (const event of backlog) this.#deliver(event);
    this.#unsubscribe = store.subscribe((event) => this.#deliver(event));

    if (request.allowBookmarks && request.bookmarkIntervalMs > 0) {
      const timer = setInterval(() => this.bookmark(store.resourceVersion), request.bookmarkIntervalMs);
      timer.unref();
      this.#timers.push(timer);
    }
    const end = setTimeout(() => {
      // Like the real server, tell a bookmark-aware client where it stands before hanging up.
      if (request.allowBookmarks) this.bookmark(store.resourceVersion);
      this.close();
    }, request.timeoutSeconds * 1000);
    end.unref();
    this.#timers.push(end);
  }

  bookmark(resourceVersion: number): void {
    const { resource } = this.request;
    this.#write({
      type: 'BOOKMARK',
      object: {
        kind: resource.kind,
        apiVersion: apiVersionOf(resource),
        metadata: { resourceVersion: String(resourceVersion) },
      },
    });
  }

  /** Sends the 410 Expired ERROR event and ends the stream; the client must relist. */
  expire(err: KubeApiError = expired(0, 0)): void {
    this.#write({ type: 'ERROR', object: err.toStatus() });
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#unsubscribe?.();
    if (!this.#res.writableEnded) this.#res.end();
    this.#onClose(this);
  }

  /** Drops the connection without ending the chunked body, as a vanished server would. */
  destroy(): void {
    this.#res.destroy();
    this.close();
  }

  #deliver(event: StoreEvent): void {
    const { request } = this;
    if (resourceKey(event.resource) !== resourceKey(request.resource)) return;
    const inScope = (o: KubeObject | undefined) =>
      o !== undefined &&
      (request.namespace === undefined || o.metadata.namespace === request.namespace) &&
      request.matches(o);
    const now = inScope(event.object);
    const before = event.type !== 'ADDED' && inScope(event.previous);
    if (event.type === 'ADDED' && now) this.#send('ADDED', event.object);
    else if (event.type === 'DELETED' && before) this.#send('DELETED', event.object);
    else if (event.type === 'MODIFIED') {
      if (before && now) this.#send('MODIFIED', event.object);
      else if (now) this.#send('ADDED', event.object);
      else if (before) this.#send('DELETED', event.object);
    }
  }

  #send(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KubeObject): void {
    const object = this.request.render ? this.request.render(obj, type) : obj;
    this.#write({ type, object });
  }

  #write(event: WatchEventOut | { type: string; object: JsonObject }): void {
    if (this.#closed || this.#res.writableEnded || this.#res.destroyed) return;
    this.#res.write(`${JSON.stringify(event)}\n`);
  }
}
