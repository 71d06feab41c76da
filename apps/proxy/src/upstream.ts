// HTTP to the pods: one set of keep-alive connections per pod origin (pod-connections.ts), with our own timeouts (undici's defaults,
// e.g. a 300 s body timeout, are not ours). dispatcher.request hands back a Node Readable body, which the
// relay writes straight to the client's socket: no Web Streams on the hot path.
import type { Dispatcher } from 'undici';
import type { TimeoutsConfig } from './config.ts';
import { PodConnections } from './pod-connections.ts';

export type UpstreamResponse = Dispatcher.ResponseData;

/** A pod answer longer than the reader's limit: the rest was not read (the connection is dropped). */
export class UpstreamBodyTooLarge extends Error {
  override readonly name = 'UpstreamBodyTooLarge';
}

/**
 * A pod's whole response body as text, at most `limitBytes` of it: a misbehaving pod cannot make the
 * proxy buffer an unbounded answer. Beyond the limit the body is destroyed and the result is the
 * UpstreamBodyTooLarge error, or with `truncate` the first `limitBytes`.
 */
export function readBodyText(
  body: UpstreamResponse['body'],
  limitBytes: number,
  options: { truncate?: boolean } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limitBytes) {
        chunks.push(chunk);
        return;
      }
      cleanup();
      // Swallows the abort error destroy() emits; nothing reads this body any more.
      body.on('error', () => {});
      body.destroy();
      if (options.truncate) {
        chunks.push(chunk.subarray(0, chunk.length - (size - limitBytes)));
        resolve(Buffer.concat(chunks).toString('utf8'));
      } else reject(new UpstreamBodyTooLarge(`response body is larger than ${limitBytes} bytes`));
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size).toString('utf8'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
  });
}

export interface UpstreamRequest {
  method: 'GET' | 'POST';
  /** Path on the pod, e.g. /v1/completions. */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
  /** Overrides the first-byte timeout (health probes). */
  headersTimeoutMs?: number;
}

interface Target {
  pool: PodConnections;
  /** Path prefix of the pod URL ("" for http://host:port). */
  base: string;
}

export class Upstreams {
  private readonly targets = new Map<string, Target>();
  private readonly pools = new Map<string, PodConnections>();
  private readonly timeouts: TimeoutsConfig;
  private readonly connectionsPerPod: number | undefined;

  constructor(options: { timeouts: TimeoutsConfig; connectionsPerPod?: number }) {
    this.timeouts = options.timeouts;
    this.connectionsPerPod = options.connectionsPerPod;
  }

  request(podUrl: string, req: UpstreamRequest): Promise<UpstreamResponse> {
    const target = this.target(podUrl);
    return target.pool.request({
      method: req.method,
      path: target.base + req.path,
      headers: req.headers,
      body: req.body ?? null,
      signal: req.signal ?? null,
      headersTimeout: req.headersTimeoutMs ?? this.timeouts.firstByteMs,
      bodyTimeout: this.timeouts.idleMs,
      // A POST to a pod is not retried by undici: failover is ours, and a generation must not run twice.
      idempotent: req.method === 'GET',
      blocking: true,
    });
  }

  /** Connection sets held: one per pod origin in use (or used since the last release()). */
  get poolCount(): number {
    return this.pools.size;
  }

  /**
   * Lets go of the pools of pods no longer in `podUrls` (the current members' URLs) with nothing running
   * or queued: each is closed (its idle connections end) and forgotten. Pod IPs change with every
   * restart, so without this a proxy would keep a set per pod per rolling restart. A later request to
   * such a pod opens a new set.
   * Returns how many were released.
   */
  release(podUrls: ReadonlySet<string>): number {
    const inUse = new Set<PodConnections>();
    for (const [podUrl, t] of this.targets) {
      if (podUrls.has(podUrl)) inUse.add(t.pool);
      else this.targets.delete(podUrl);
    }
    let released = 0;
    for (const [origin, pool] of this.pools) {
      if (inUse.has(pool)) continue;
      const { running, pending } = pool.stats;
      // Busy (a leg or probe still on it): kept until a later release finds it idle.
      if (running + pending > 0) continue;
      this.pools.delete(origin);
      void pool.close().catch(() => undefined);
      released++;
    }
    return released;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.targets.clear();
    await Promise.allSettled(pools.map((p) => p.destroy()));
  }

  private target(podUrl: string): Target {
    let t = this.targets.get(podUrl);
    if (t) return t;
    const url = new URL(podUrl);
    let pool = this.pools.get(url.origin);
    if (!pool) {
      pool = new PodConnections(url.origin, {
        connections: this.connectionsPerPod ?? null,
        connectTimeout: this.timeouts.connectMs,
        headersTimeout: this.timeouts.firstByteMs,
        bodyTimeout: this.timeouts.idleMs,
        keepAliveTimeout: this.timeouts.keepAliveMs,
        // A pod's Keep-Alive: timeout=N hint may shorten our idle time, never lengthen it.
        keepAliveMaxTimeout: this.timeouts.keepAliveMs,
        // One request per connection at a time: a pipelined request would queue behind a long stream.
        pipelining: 1,
      });
      this.pools.set(url.origin, pool);
    }
    t = { pool, base: url.pathname.replace(/\/+$/, '') };
    this.targets.set(podUrl, t);
    return t;
  }
}
