// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction
// What proxy replicas tell each other their prefix indexes learned (docs/design.md §3.6), the I/O-free
// half: each replica's index learns only from the requests it routed, so with requests spread over
// replicas every index would know part of the fleet's caches and the replicas would send the same
// conversation to different pods. Each replica collects the (block hash, pod) pairs that were news to
// its own index since its last load message and sends them with it (the `learned` field of the load
// message); the others record them as if they had routed the request. Only news is sent: a pair the
// index already held is not sent again, and a pair heard from a peer is never re-sent, so a hot prefix
// costs nothing per request and nothing echoes.

import type { Role } from './snapshot.ts';

/**
 * The block hash this build computes (prefix-index.ts): its algorithm and the platform's byte order
 * (a word is read in the machine's order). Replicas that differ ignore each other's blocks.
 */
export const PREFIX_HASH_ID = `pdr1-${new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 'le' : 'be'}`;

/** Block hashes one message may carry, summed over roles and pods (~11 bytes each on the wire). */
export const LEARNED_MAX_HASHES = 65_536;
/** Pods one role of a message may name. */
export const LEARNED_MAX_PODS = 100_000;
const MAX_POD_CHARS = 2048;
const HASH_LIMIT = 2 ** 30;
const ROLES: readonly Role[] = ['prefill', 'decode', 'plain'];

/** One message's learned blocks: per role, per pod, the block hashes new to the sender's index. */
export interface LearnedPrefixes {
  readonly hash: string;
  readonly block: number;
  readonly roles: ReadonlyMap<Role, ReadonlyMap<string, readonly number[]>>;
}

/** The wire form of LearnedPrefixes: `{"hash":ID,"block":N,"prefill":{"POD":[H,...]},...}`. */
export type LearnedWire = { hash: string; block: number } & Partial<Record<Role, Record<string, number[]>>>;

/**
 * The (block hash, pod) pairs learned since the last drain, per role, up to `maxHashes` (the rest is
 * counted as dropped: peers then learn those blocks from their own traffic, as without sharing).
 */
export class LearnedBatch {
  private readonly maxHashes: number;
  private readonly blockChars: number;
  private readonly roles = new Map<Role, Map<string, number[]>>();
  private count = 0;
  private droppedCount = 0;

  constructor(options: { maxHashes: number; blockChars: number }) {
    if (!(Number.isInteger(options.maxHashes) && options.maxHashes > 0 && options.maxHashes <= LEARNED_MAX_HASHES))
      throw new RangeError(`maxHashes must be an integer 1-${LEARNED_MAX_HASHES}, got ${options.maxHashes}`);
    this.maxHashes = options.maxHashes;
    this.blockChars = options.blockChars;
  }

  /** Hashes waiting to be sent. */
  get size(): number {
    return this.count;
  }

  /** Adds `hashes` (news for `pod` in `role`'s index); what does not fit is dropped and counted. */
  add(role: Role, pod: string, hashes: readonly number[]): void {
    if (hashes.length === 0) return;
    const room = this.maxHashes - this.count;
    const n = Math.min(room, hashes.length);
    this.droppedCount += hashes.length - n;
    if (n === 0) return;
    let pods = this.roles.get(role);
    if (pods === undefined) {
      pods = new Map();
      this.roles.set(role, pods);
    }
    let list = pods.get(pod);
    if (list === undefined) {
      list = [];
      pods.set(pod, list);
    }
    for (let i = 0; i < n; i++) list.push(hashes[i]!);
    this.count += n;
  }

  /** The wire form of what was collected (undefined when nothing was), and the hashes dropped since the last drain; starts over. */
  drain(): { wire: LearnedWire | undefined; dropped: number } {
    const dropped = this.droppedCount;
    this.droppedCount = 0;
    if (this.count === 0) return { wire: undefined, dropped };
    const wire: LearnedWire = { hash: PREFIX_HASH_ID, block: this.blockChars };
    for (const [role, pods] of this.roles) wire[role] = Object.fromEntries(pods);
    this.roles.clear();
    this.count = 0;
    return { wire, dropped };
  }
}

export type ParseLearnedResult =
  | { readonly ok: true; readonly learned: LearnedPrefixes }
  | { readonly ok: false; readonly error: string };

/** Checks a message's `learned` field whole: a hostile or broken peer cannot make a replica hold unbounded state. */
export function parseLearned(raw: unknown): ParseLearnedResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, error: 'learned must be an object' };
  const r = raw as Record<string, unknown>;
  if (typeof r.hash !== 'string' || r.hash === '' || r.hash.length > 64)
    return { ok: false, error: 'learned.hash must be a string of 1-64 characters' };
  if (!(Number.isInteger(r.block) && (r.block as number) > 0 && (r.block as number) <= 1 << 20))
    return { ok: false, error: 'learned.block must be an integer 1-1048576' };
  for (const k in r) {
    if (k !== 'hash' && k !== 'block' && !ROLES.includes(k as Role))
      return { ok: false, error: `learned.${k}: unknown role (prefill, decode or plain)` };
  }
  const roles = new Map<Role, Map<string, readonly number[]>>();
  let total = 0;
  for (const role of ROLES) {
    const pods = r[role];
    if (pods === undefined) continue;
    if (typeof pods !== 'object' || pods === null || Array.isArray(pods))
      return { ok: false, error: `learned.${role} must be an object of pod -> block hashes` };
    const out = new Map<string, readonly number[]>();
    for (const pod in pods) {
      if (!Object.hasOwn(pods, pod)) continue;
      if (out.size >= LEARNED_MAX_PODS)
        return { ok: false, error: `learned.${role}: more than ${LEARNED_MAX_PODS} pods` };
      if (pod === '' || pod.length > MAX_POD_CHARS)
        return { ok: false, error: `learned.${role}: a pod name must be 1-${MAX_POD_CHARS} characters` };
      const hashes = (pods as Record<string, unknown>)[pod];
      if (!Array.isArray(hashes))
        return { ok: false, error: `learned.${role}[${JSON.stringify(pod)}] must be an array` };
      total += hashes.length;
      if (total > LEARNED_MAX_HASHES)
        return { ok: false, error: `learned: more than ${LEARNED_MAX_HASHES} block hashes` };
      for (const h of hashes) {
        if (!(Number.isInteger(h) && (h as number) >= 0 && (h as number) < HASH_LIMIT))
          return {
            ok: false,
            error: `learned.${role}[${JSON.stringify(pod)}]: block hashes are integers 0-${HASH_LIMIT - 1}`,
          };
      }
      out.set(pod, hashes as number[]);
    }
    roles.set(role, out);
  }
  return { ok: true, learned: { hash: r.hash, block: r.block as number, roles } };
}

/** Whether a peer's blocks mean the same text as ours: the same hash and the same block size. */
export function learnedCompatible(learned: LearnedPrefixes, blockChars: number): boolean {
  return learned.hash === PREFIX_HASH_ID && learned.block === blockChars;
}
