// Where the proxy's rings are built. A change of a few members is merged into the current ring on
// the event loop (milliseconds even at 10,000 members); a ring built from scratch with more points
// than a few milliseconds' worth is built in a worker thread, so /health and requests keep being
// answered while the first 10,000-pod snapshot is hashed.
import { Worker } from 'node:worker_threads';
import { ConsistentHashRing, runInSlices, sortRingMembers } from '@pdrouter/core';
import type { RingBuildReply, RingBuildRequest } from './ring-build-worker.ts';

/** Lets the event loop run whatever is waiting (I/O, timers) before continuing. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs `steps` to its end, letting the event loop run every few milliseconds of them (runInSlices;
 * `sliceMs` its slice, SLICE_MS unless given).
 */
export function runInSteps<T>(steps: Generator<void, T>, sliceMs?: number): Promise<T> {
  return runInSlices(steps, { pause: yieldToLoop, ...(sliceMs === undefined ? {} : { sliceMs }) });
}

/** Rings up to this many points are built on the event loop: about 10 ms of hashing on a slow core. */
export const SYNC_BUILD_MAX_POINTS = 8_000;

export class RingBuilder {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (reply: RingBuildReply) => void>();
  private readonly syncMaxPoints: number;

  constructor(options: { syncMaxPoints?: number } = {}) {
    this.syncMaxPoints = options.syncMaxPoints ?? SYNC_BUILD_MAX_POINTS;
  }

  /** The ring of `members` with `vnodes`, reusing `previous`'s points when that is cheaper. */
  async build(members: readonly string[], vnodes: number, previous?: ConsistentHashRing): Promise<ConsistentHashRing> {
    const merged = previous?.vnodes === vnodes ? previous.mergeMembers(members) : undefined;
    if (merged) return merged;
    const sorted = sortRingMembers(members);
    if (sorted.length * vnodes <= this.syncMaxPoints) return new ConsistentHashRing(sorted, { vnodes });
    // Sorting 10,000 members and bucketing 1.6M points are each milliseconds here: requests get a
    // turn before the request to the worker and between the steps of bucketing its points.
    await yieldToLoop();
    let reply: RingBuildReply;
    try {
      reply = await this.request({ members: sorted, vnodes });
    } catch (err) {
      reply = { id: 0, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (reply.ok) return runInSteps(ConsistentHashRing.fromPointsInSteps(sorted, vnodes, reply));
    // The worker could not start or died: build here, late and blocking, rather than not at all.
    return new ConsistentHashRing(sorted, { vnodes });
  }

  /** Stops the worker (pending builds fall back to the event loop). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private request(req: Omit<RingBuildRequest, 'id'>): Promise<RingBuildReply> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      worker.postMessage({ id, ...req } satisfies RingBuildRequest);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./ring-build-worker.ts', import.meta.url));
    // Idle, it must not keep the process alive.
    worker.unref();
    worker.on('message', (reply: RingBuildReply) => {
      const resolve = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      resolve?.(reply);
    });
    const failAll = (error: string) => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, resolve] of this.pending) resolve({ id, ok: false, error });
      this.pending.clear();
    };
    worker.on('error', (err) => failAll(err.message));
    worker.on('exit', (code) => failAll(`ring build worker exited with code ${code}`));
    this.worker = worker;
    return worker;
  }
}
