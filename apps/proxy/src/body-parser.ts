// Where prepareBody() runs: on the event loop for small bodies (a worker round trip costs more than
// parsing them), on a worker thread from BODY_WORKER_MIN_BYTES up, so one large body never holds the
// loop that relays every other stream. A worker that dies is replaced; its tasks fail as internal errors.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { RouterError, type U64 } from '@pdrouter/core';
import type { WorkerAnswer, WorkerTask } from './body-worker.ts';
import { type PreparedBody, type PrepareOptions, prepareBody } from './prepare-body.ts';

/**
 * Bodies from this size are prepared off the event loop. Parsing, hashing and re-serialising 64 KiB
 * takes about a millisecond on the loop; a worker round trip costs a fraction of that plus a copy.
 */
export const BODY_WORKER_MIN_BYTES = 64 * 1024;

interface Pending {
  resolve(p: PreparedBody): void;
  reject(err: unknown): void;
  received: Buffer;
}

class BodyWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private readonly queue: WorkerTask[] = [];
  private busy = false;

  get load(): number {
    return this.pending.size;
  }

  run(received: Buffer, options: PrepareOptions): Promise<PreparedBody> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, received });
      this.queue.push({ id, received, options });
      this.dispatch();
    });
  }

  /**
   * One task at a time on the worker: a queued task's body would otherwise be copied into the worker's
   * heap at once, doubling the memory of every body waiting its turn.
   */
  private dispatch(): void {
    if (this.busy) return;
    const task = this.queue.shift();
    if (!task) return;
    this.busy = true;
    (this.worker ?? this.start()).postMessage(task);
  }

  async close(): Promise<void> {
    const w = this.worker;
    if (w) this.fail(w, new RouterError('draining', 'the router is shutting down; retry the request'));
    await w?.terminate();
  }

  private start(): Worker {
    const worker = new Worker(new URL('./body-worker.ts', import.meta.url));
    // Idle workers must not keep the process alive.
    worker.unref();
    worker.on('message', (a: WorkerAnswer) => this.answer(a));
    worker.on('error', (err) => this.fail(worker, err));
    worker.on('exit', (code) => this.fail(worker, new Error(`body worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private answer(a: WorkerAnswer): void {
    this.busy = false;
    this.dispatch();
    const p = this.pending.get(a.id);
    if (!p) return;
    this.pending.delete(a.id);
    if (!a.ok) {
      p.reject(
        new RouterError(a.error.code, a.error.message, {
          status: a.error.status,
          ...(a.error.param !== undefined ? { param: a.error.param } : {}),
        }),
      );
      return;
    }
    const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    p.resolve({
      raw: a.raw ? buf(a.raw) : p.received,
      body: a.body,
      hash: a.hash as U64 | undefined,
      hashKey: a.hashKey,
      prefillBody: a.prefillBody ? buf(a.prefillBody) : undefined,
      ...(a.prefix !== undefined ? { prefix: a.prefix } : {}),
      ...(a.promptTokens !== undefined ? { promptTokens: a.promptTokens } : {}),
    });
  }

  private fail(worker: Worker, err: unknown): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.busy = false;
    this.queue.length = 0;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
  }
}

export class BodyParser {
  private readonly workers: BodyWorker[];

  /** `workers`: threads for large bodies (default: one fewer than the cores, at least one, at most four). */
  constructor(workers = Math.max(1, Math.min(4, availableParallelism() - 1))) {
    this.workers = Array.from({ length: workers }, () => new BodyWorker());
  }

  prepare(received: Buffer, options: PrepareOptions): Promise<PreparedBody> {
    if (received.length < BODY_WORKER_MIN_BYTES) {
      try {
        return Promise.resolve(prepareBody(received, options));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    let least = this.workers[0] as BodyWorker;
    for (const w of this.workers) if (w.load < least.load) least = w;
    return least.run(received, options);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }
}
