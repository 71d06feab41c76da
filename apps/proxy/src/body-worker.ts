// The worker thread of body-parser.ts: prepareBody() on a body sent by the main thread. The answer's
// buffers are transferred back (no copy); a RouterError travels as its fields.
import { parentPort } from 'node:worker_threads';
import { type PrefixKey, RouterError } from '@pdrouter/core';
import { type PrepareOptions, prepareBody } from './prepare-body.ts';

export interface WorkerTask {
  readonly id: number;
  readonly received: Uint8Array;
  readonly options: PrepareOptions;
}

export type WorkerAnswer =
  | {
      readonly id: number;
      readonly ok: true;
      /** Absent: the legs send the bytes as received. */
      readonly raw?: Uint8Array;
      readonly body: Record<string, unknown>;
      readonly hash: { hi: number; lo: number } | undefined;
      readonly hashKey: string | undefined;
      readonly prefillBody: Uint8Array | undefined;
      readonly prefix?: PrefixKey;
      readonly promptTokens?: number;
    }
  | {
      readonly id: number;
      readonly ok: false;
      readonly error: { code: RouterError['code']; message: string; status: number; param?: string };
    };

const toBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

parentPort?.on('message', (task: WorkerTask) => {
  const received = toBuffer(task.received);
  let answer: WorkerAnswer;
  const transfer: ArrayBuffer[] = [];
  try {
    const p = prepareBody(received, task.options);
    const changed = p.raw !== received;
    if (changed && ownsMemory(p.raw)) transfer.push(p.raw.buffer as ArrayBuffer);
    if (p.prefillBody && ownsMemory(p.prefillBody)) transfer.push(p.prefillBody.buffer as ArrayBuffer);
    answer = {
      id: task.id,
      ok: true,
      ...(changed ? { raw: p.raw } : {}),
      body: p.body,
      hash: p.hash,
      hashKey: p.hashKey,
      prefillBody: p.prefillBody,
      ...(p.prefix !== undefined ? { prefix: p.prefix } : {}),
      ...(p.promptTokens !== undefined ? { promptTokens: p.promptTokens } : {}),
    };
  } catch (err) {
    const e =
      err instanceof RouterError
        ? err
        : new RouterError('internal_error', `body preparation failed: ${(err as Error)?.message ?? String(err)}`);
    answer = {
      id: task.id,
      ok: false,
      error: {
        code: e.code,
        message: e.message,
        status: e.status,
        ...(e.param !== undefined ? { param: e.param } : {}),
      },
    };
  }
  parentPort?.postMessage(answer, transfer);
});

/** A buffer alone in its memory (not a slice of Buffer's shared pool): safe to transfer. */
function ownsMemory(b: Buffer): boolean {
  return b.byteOffset === 0 && b.buffer.byteLength === b.byteLength;
}
