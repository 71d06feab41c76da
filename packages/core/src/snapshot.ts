import { canonicalJson } from './canonical-json.ts';
import { RouterError } from './errors.ts';
import { murmur64a } from './murmur64a.ts';
import { parseSnapshot } from './snapshot-parse.ts';
import { u64ToHex } from './u64.ts';

// A snapshot is the whole pod set of one pool at one moment, as the discovery leader publishes it
// (docs/design.md §4). Proxies build their rings from it, so its encoding and fingerprint must be
// identical in every process.

export type Role = 'prefill' | 'decode' | 'plain';
export const ROLES: readonly Role[] = Object.freeze(['prefill', 'decode', 'plain']);

export interface Member {
  /** Pod name (unique within a role). */
  name: string;
  /** Pod uid: a restarted pod with the same name is a different member. */
  uid: string;
  /** Base URL, http(s)://host:port, no path. */
  url: string;
  ready: boolean;
  /** Prefill bootstrap port (vllm-router's `--prefill URL PORT`, the vllm.ai/bootstrap-port annotation). */
  bootstrapPort?: number;
  /** Data-parallel rank: vllm-router places such members on the ring as `url@rank`. */
  dpRank?: number;
}

export interface Snapshot {
  pool: string;
  /** Producer epoch: bumps when a new discovery leader starts publishing. */
  epoch: number;
  /** Sequence within the epoch, strictly increasing. */
  seq: number;
  /** ISO 8601 time the producer built it. */
  time: string;
  members: { prefill: Member[]; decode: Member[]; plain: Member[] };
}

export const DEFAULT_POOL = 'default';

function compareByName(a: Member, b: Member): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function canonicalMembers(s: Snapshot): Snapshot['members'] {
  return {
    prefill: [...s.members.prefill].sort(compareByName),
    decode: [...s.members.decode].sort(compareByName),
    plain: [...s.members.plain].sort(compareByName),
  };
}

/** Canonical JSON: keys sorted at every depth, members sorted by name, optional fields omitted when unset. */
export function encodeSnapshot(s: Snapshot): string {
  return canonicalJson({ pool: s.pool, epoch: s.epoch, seq: s.seq, time: s.time, members: canonicalMembers(s) });
}

const fingerprintEncoder = new TextEncoder();

/**
 * A digest of the membership only (roles and members, not pool, epoch, seq or time): a heartbeat
 * republish keeps it, any change to who is in the pool changes it.
 */
export function snapshotFingerprint(s: Snapshot): string {
  return u64ToHex(murmur64a(fingerprintEncoder.encode(canonicalJson(canonicalMembers(s)))));
}

/** Order by (epoch, seq). */
export function compareSnapshotOrder(a: Pick<Snapshot, 'epoch' | 'seq'>, b: Pick<Snapshot, 'epoch' | 'seq'>): number {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}

/**
 * Epochs are the ms time a leader's term started. One further ahead of the reader's clock than this is
 * not a leader's (clocks are NTP-synced) but a hand-made or corrupt value: proxies reject it, and a new
 * leader does not derive its own epoch from it (which would pin the fleet to the bogus value).
 */
export const MAX_EPOCH_AHEAD_MS = 10 * 60_000;

export function isPlausibleEpoch(epoch: number, nowMs: number): boolean {
  return epoch <= nowMs + MAX_EPOCH_AHEAD_MS;
}

/** True when there is no current snapshot or the candidate comes strictly after it. */
export function isNewerSnapshot(candidate: Snapshot, current?: Snapshot): boolean {
  return current === undefined || compareSnapshotOrder(candidate, current) > 0;
}

/** The string a member occupies the ring with: its URL, or `url@rank` for a data-parallel rank (as vllm-router). */
export function memberRingKey(m: Member): string {
  return m.dpRank === undefined ? m.url : `${m.url}@${m.dpRank}`;
}

/** The ring keys of a role's ready members. */
export function ringMembers(s: Snapshot, role: Role): string[] {
  return s.members[role].filter((m) => m.ready).map(memberRingKey);
}

export type UrlMemberInput = string | { url: string; bootstrapPort?: number };

export interface SnapshotFromUrlsInput {
  pool?: string;
  prefill: readonly UrlMemberInput[];
  decode: readonly UrlMemberInput[];
  plain?: readonly UrlMemberInput[];
  /** Defaults to now. */
  time?: string;
}

function urlMember(input: UrlMemberInput): Member {
  const { url, bootstrapPort } = typeof input === 'string' ? { url: input, bootstrapPort: undefined } : input;
  const m: Member = { name: url, uid: url, url, ready: true };
  if (bootstrapPort !== undefined) m.bootstrapPort = bootstrapPort;
  return m;
}

/**
 * The snapshot of standalone mode (static --prefill/--decode URLs): epoch 0, seq 0, every member
 * ready and named by its URL. Throws a RouterError (invalid_request) naming the bad URL or duplicate.
 */
export function snapshotFromUrls(input: SnapshotFromUrlsInput): Snapshot {
  const candidate = {
    pool: input.pool ?? DEFAULT_POOL,
    epoch: 0,
    seq: 0,
    time: input.time ?? new Date().toISOString(),
    members: {
      prefill: input.prefill.map(urlMember),
      decode: input.decode.map(urlMember),
      plain: (input.plain ?? []).map(urlMember),
    },
  };
  const parsed = parseSnapshot(candidate);
  if (!parsed.ok) throw new RouterError('invalid_request', parsed.error);
  return parsed.snapshot;
}
