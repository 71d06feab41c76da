// Worker thread of ring-builder.ts: builds a ring's points so the event loop keeps serving requests
// while 10,000 members x 160 vnodes are hashed and sorted. The arrays go back transferred, not copied.
import { parentPort } from 'node:worker_threads';
import { buildRingPoints } from '@pdrouter/core';

export interface RingBuildRequest {
  id: number;
  members: readonly string[];
  vnodes: number;
}

export type RingBuildReply =
  | { id: number; ok: true; hi: Uint32Array; lo: Uint32Array; owner: Uint32Array }
  | { id: number; ok: false; error: string };

parentPort?.on('message', (req: RingBuildRequest) => {
  let reply: RingBuildReply;
  try {
    const points = buildRingPoints(req.members, req.vnodes);
    reply = { id: req.id, ok: true, ...points };
  } catch (err) {
    reply = { id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  const transfer = reply.ok ? [reply.hi.buffer, reply.lo.buffer, reply.owner.buffer] : [];
  parentPort?.postMessage(reply, transfer as ArrayBuffer[]);
});
