// Shared in-flight load (docs/design.md §3.4): each proxy replica publishes its in-flight legs per pod on
// one core NATS subject per pool, and sums what the others published. This file is the I/O-free half:
// the subject, the message format and its validation, and the fleet-wide sum with its staleness limit.
// A message from another replica is input like any other: it is checked whole before it counts.

import { type LearnedPrefixes, type LearnedWire, parseLearned } from './prefix-share.ts';

export const LOAD_SHARE_SUBJECT_PREFIX = 'pdrouter.load';

/** The subject replicas of `pool` share their load on (the snapshot bucket keeps pools of two buses apart). */
export function loadShareSubject(bucket: string, pool: string): string {
  return `${LOAD_SHARE_SUBJECT_PREFIX}.${bucket}.${pool}`;
}

/** Bounds on a message, so a broken or hostile peer cannot make a replica hold unbounded state. */
export const LOAD_MESSAGE_MAX_PODS = 100_000;
export const LOAD_MESSAGE_MAX_ID_CHARS = 256;
export const LOAD_MESSAGE_MAX_URL_CHARS = 2048;
export const LOAD_MESSAGE_MAX_COUNT = 1_000_000;
/** Replicas one proxy keeps counts of; a message from one more is refused until another expires. */
export const FLEET_LOAD_MAX_PEERS = 1024;

/** One replica's in-flight legs per pod (pods with none are left out), numbered so a late one is dropped. */
export interface LoadMessage {
  readonly replica: string;
  readonly seq: number;
  readonly pods: ReadonlyMap<string, number>;
  /** What the replica's prefix indexes learned since its previous message (prefix-share.ts). */
  readonly learned?: LearnedPrefixes;
}

export type ParseLoadMessageResult =
  | { readonly ok: true; readonly message: LoadMessage }
  | { readonly ok: false; readonly error: string };

/**
 * The wire form: `{"v":1,"replica":ID,"seq":N,"pods":{"URL":COUNT,...}}`, with `"learned":{...}` when the
 * replica's prefix indexes learned something (a replica that does not know the field ignores it).
 */
export function encodeLoadMessage(
  replica: string,
  seq: number,
  counts: Iterable<readonly [string, number]>,
  learned?: LearnedWire,
): string {
  const pods: Record<string, number> = {};
  for (const [url, n] of counts) if (n > 0) pods[url] = n;
  return JSON.stringify(learned === undefined ? { v: 1, replica, seq, pods } : { v: 1, replica, seq, pods, learned });
}

const isCount = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0;

export function parseLoadMessage(text: string): ParseLoadMessageResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: 'not a JSON object' };
  const { v, replica, seq, pods, learned } = raw as Record<string, unknown>;
  if (v !== 1) return { ok: false, error: `unknown version ${JSON.stringify(v)}` };
  if (typeof replica !== 'string' || replica === '' || replica.length > LOAD_MESSAGE_MAX_ID_CHARS)
    return { ok: false, error: `replica must be a string of 1-${LOAD_MESSAGE_MAX_ID_CHARS} characters` };
  if (!isCount(seq) || !Number.isSafeInteger(seq)) return { ok: false, error: 'seq must be an integer >= 0' };
  if (typeof pods !== 'object' || pods === null || Array.isArray(pods))
    return { ok: false, error: 'pods must be an object of pod -> count' };
  const out = new Map<string, number>();
  for (const url in pods) {
    if (!Object.hasOwn(pods, url)) continue;
    if (out.size >= LOAD_MESSAGE_MAX_PODS) return { ok: false, error: `more than ${LOAD_MESSAGE_MAX_PODS} pods` };
    const n = (pods as Record<string, unknown>)[url];
    if (url === '' || url.length > LOAD_MESSAGE_MAX_URL_CHARS)
      return { ok: false, error: `a pod name must be 1-${LOAD_MESSAGE_MAX_URL_CHARS} characters` };
    if (!isCount(n) || n > LOAD_MESSAGE_MAX_COUNT)
      return { ok: false, error: `pods[${JSON.stringify(url)}] must be an integer 0-${LOAD_MESSAGE_MAX_COUNT}` };
    if (n > 0) out.set(url, n);
  }
  if (learned === undefined) return { ok: true, message: { replica, seq, pods: out } };
  const l = parseLearned(learned);
  if (!l.ok) return l;
  return { ok: true, message: { replica, seq, pods: out, learned: l.learned } };
}

/** What ingest() did with a message. */
export type IngestResult = 'ok' | 'own' | 'out_of_order' | 'too_many_peers';

interface Peer {
  seq: number;
  heardAtMs: number;
  pods: ReadonlyMap<string, number>;
}

export interface PeerView {
  readonly replica: string;
  readonly ageMs: number;
  /** In-flight legs the replica reported, summed over pods. */
  readonly inFlight: number;
}

/**
 * The other replicas' in-flight legs per pod, summed. A replica not heard from within `staleMs` is
 * dropped at the next expire() (it stopped, or lost NATS): its requests either ended or will be counted
 * again when it is back, and a stale count would steer traffic away from a pod for nothing.
 */
export class FleetLoad {
  private readonly self: string;
  private readonly staleMs: number;
  private readonly maxPeers: number;
  private readonly peers = new Map<string, Peer>();
  /** Sum over peers, per pod; kept up to date on every message so a read is one lookup. */
  private readonly totals = new Map<string, number>();

  constructor(options: { self: string; staleMs: number; maxPeers?: number }) {
    this.self = options.self;
    this.staleMs = options.staleMs;
    this.maxPeers = options.maxPeers ?? FLEET_LOAD_MAX_PEERS;
  }

  /** Takes a replica's latest counts in place of its previous ones. */
  ingest(m: LoadMessage, nowMs: number): IngestResult {
    if (m.replica === this.self) return 'own';
    const prev = this.peers.get(m.replica);
    if (prev !== undefined && m.seq <= prev.seq) return 'out_of_order';
    if (prev === undefined && this.peers.size >= this.maxPeers) return 'too_many_peers';
    if (prev !== undefined) this.add(prev.pods, -1);
    this.add(m.pods, 1);
    this.peers.set(m.replica, { seq: m.seq, heardAtMs: nowMs, pods: m.pods });
    return 'ok';
  }

  /** Drops the replicas not heard from within the staleness limit; returns their ids. */
  expire(nowMs: number): string[] {
    const gone: string[] = [];
    for (const [replica, p] of this.peers) {
      if (nowMs - p.heardAtMs <= this.staleMs) continue;
      this.add(p.pods, -1);
      this.peers.delete(replica);
      gone.push(replica);
    }
    return gone;
  }

  /** The other replicas' in-flight legs on the pod. */
  inFlight(url: string): number {
    return this.totals.get(url) ?? 0;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  /** For /admin/state. */
  peerViews(nowMs: number): PeerView[] {
    return [...this.peers].map(([replica, p]) => {
      let inFlight = 0;
      for (const n of p.pods.values()) inFlight += n;
      return { replica, ageMs: nowMs - p.heardAtMs, inFlight };
    });
  }

  private add(pods: ReadonlyMap<string, number>, sign: 1 | -1): void {
    for (const [url, n] of pods) {
      const next = (this.totals.get(url) ?? 0) + sign * n;
      if (next > 0) this.totals.set(url, next);
      else this.totals.delete(url);
    }
  }
}
