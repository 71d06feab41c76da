import { canonicalJson } from './canonical-json.ts';
import { RouterError } from './errors.ts';
import { murmur64a } from './murmur64a.ts';
import { parseSnapshot } from './snapshot-parse.ts';
import { runToEnd } from './steps.ts';
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

/** The role's members sorted by name; the array itself when it already is (as discovery publishes it). */
function sortedByName(members: readonly Member[]): readonly Member[] {
  for (let i = 1; i < members.length; i++) {
    if (compareByName(members[i - 1] as Member, members[i] as Member) > 0) return [...members].sort(compareByName);
  }
  return members;
}

function canonicalMembers(s: Snapshot): {
  prefill: readonly Member[];
  decode: readonly Member[];
  plain: readonly Member[];
} {
  return {
    prefill: sortedByName(s.members.prefill),
    decode: sortedByName(s.members.decode),
    plain: sortedByName(s.members.plain),
  };
}

/** Canonical JSON: keys sorted at every depth, members sorted by name, optional fields omitted when unset. */
export function encodeSnapshot(s: Snapshot): string {
  return canonicalJson({ pool: s.pool, epoch: s.epoch, seq: s.seq, time: s.time, members: canonicalMembers(s) });
}

const fingerprintEncoder = new TextEncoder();
/** The fingerprint's version tag, hashed in with the sum: a change of definition changes every fingerprint. */
const FINGERPRINT_TAG = 0x70647232; // "pdr2"

/**
 * A digest of the membership only (roles and members, not pool, epoch, seq or time): a heartbeat
 * republish keeps it, any change to who is in the pool changes it. Defined as murmur64a over
 * (tag, member count, S) where S is the sum mod 2^64 of murmur64a(`${role}\n${canonical JSON of the member}`)
 * over every member: independent of member order, and a snapshot that differs by one pod from the
 * previous one (whose member objects parseSnapshot reuses) hashes one member, not 10,000.
 */
export function snapshotFingerprint(s: Snapshot): string {
  return fingerprintOfSum(membershipSum(s));
}

/** The (S, member count) a fingerprint is made of (see snapshotFingerprint), as unsigned 32-bit halves. */
export interface MembershipSum {
  readonly hi: number;
  readonly lo: number;
  readonly count: number;
}

/** A snapshot's membership sum: each member's digest once (cached on the member object). */
export function membershipSum(s: Snapshot): MembershipSum {
  let sum: MembershipSum = { hi: 0, lo: 0, count: 0 };
  for (const role of ROLES) sum = addDigests(sum, s.members[role], role, 1);
  return sum;
}

/**
 * membershipSum in steps: the generator yields after every `step` members and returns the sum. The
 * digests are not cached (see memberDigest): a membership hashed whole is hashed once.
 */
export function* membershipSumInSteps(s: Snapshot, step: number): Generator<void, MembershipSum> {
  let sum: MembershipSum = { hi: 0, lo: 0, count: 0 };
  for (const role of ROLES) {
    const list = s.members[role];
    for (let i = 0; i < list.length; i += step) {
      sum = addDigests(sum, list.length <= step ? list : list.slice(i, i + step), role, 1, false);
      yield;
    }
  }
  return sum;
}

/**
 * The sum of the snapshot parsed with `changes` (parseSnapshot's) against the snapshot whose sum is
 * `previous`: the digests of the members that left taken out, those of the members that joined added.
 */
export function membershipSumAfter(
  previous: MembershipSum,
  changes: {
    readonly added: Readonly<Record<Role, readonly Member[]>>;
    readonly removed: Readonly<Record<Role, readonly Member[]>>;
  },
): MembershipSum {
  return runToEnd(membershipSumAfterInSteps(previous, changes, Number.POSITIVE_INFINITY));
}

/** membershipSumAfter in steps: the generator yields after every `step` members it hashes. */
export function* membershipSumAfterInSteps(
  previous: MembershipSum,
  changes: {
    readonly added: Readonly<Record<Role, readonly Member[]>>;
    readonly removed: Readonly<Record<Role, readonly Member[]>>;
  },
  step: number,
): Generator<void, MembershipSum> {
  let sum = previous;
  for (const role of ROLES) {
    for (const [list, sign] of [
      [changes.removed[role], -1],
      [changes.added[role], 1],
    ] as const) {
      if (list.length <= step) {
        sum = addDigests(sum, list, role, sign);
        continue;
      }
      for (let i = 0; i < list.length; i += step) {
        sum = addDigests(sum, list.slice(i, i + step), role, sign);
        yield;
      }
    }
  }
  return sum;
}

/** sum + sign * digests of `members` mod 2^64, and the count moved by as many. */
function addDigests(
  sum: MembershipSum,
  members: readonly Member[],
  role: Role,
  sign: 1 | -1,
  cache = true,
): MembershipSum {
  let { hi, lo } = sum;
  for (const m of members) {
    const d = memberDigest(m, role, cache);
    if (sign === 1) {
      const low = lo + d.lo;
      lo = low >>> 0;
      hi = (hi + d.hi + (low > 0xffffffff ? 1 : 0)) >>> 0;
    } else {
      const low = lo - d.lo;
      lo = low >>> 0;
      hi = (hi - d.hi - (low < 0 ? 1 : 0)) >>> 0;
    }
  }
  return { hi, lo, count: sum.count + sign * members.length };
}

/** The fingerprint of a membership sum. */
export function fingerprintOfSum(sum: MembershipSum): string {
  // Little-endian 32-bit words, whatever the host.
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, FINGERPRINT_TAG, true);
  view.setUint32(4, sum.count, true);
  view.setUint32(8, sum.hi, true);
  view.setUint32(12, sum.lo, true);
  return u64ToHex(murmur64a(bytes));
}

interface CachedMember {
  name: string;
  uid: string;
  url: string;
  ready: boolean;
  bootstrapPort: number | undefined;
  dpRank: number | undefined;
  json: string;
  /** murmur64a of `${role}\n${json}` for the role it was last asked for. */
  digest: { role: Role; hi: number; lo: number } | undefined;
}

// Member objects outlive snapshots (parseSnapshot's `previous` reuses them), so a snapshot differing
// by one pod re-encodes one member. Each entry keeps the fields it encoded and is used only while
// they still match, so a member changed in place is encoded again.
const memberCache = new WeakMap<Member, CachedMember>();

/** Keys canonicalJson would encode (a key added in place makes the cached text wrong). */
function definedKeys(m: Member): number {
  let n = 0;
  for (const key in m) if ((m as unknown as Record<string, unknown>)[key] !== undefined) n++;
  return n;
}

function cachedMember(m: Member): CachedMember {
  const c = memberCache.get(m);
  if (
    c !== undefined &&
    c.name === m.name &&
    c.uid === m.uid &&
    c.url === m.url &&
    c.ready === m.ready &&
    c.bootstrapPort === m.bootstrapPort &&
    c.dpRank === m.dpRank &&
    definedKeys(m) === 4 + (m.bootstrapPort === undefined ? 0 : 1) + (m.dpRank === undefined ? 0 : 1)
  ) {
    return c;
  }
  const { name, uid, url, ready, bootstrapPort, dpRank } = m;
  const fresh: CachedMember = {
    name,
    uid,
    url,
    ready,
    bootstrapPort,
    dpRank,
    json: encodeMember(m),
    digest: undefined,
  };
  memberCache.set(m, fresh);
  return fresh;
}

const isJsonNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * canonicalJson(m), written field by field for the shape a validated member has (keys in sorted order:
 * bootstrapPort, dpRank, name, ready, uid, url); anything else goes through canonicalJson itself.
 */
function encodeMember(m: Member): string {
  const optional = (m.bootstrapPort === undefined ? 0 : 1) + (m.dpRank === undefined ? 0 : 1);
  if (
    typeof m.name !== 'string' ||
    typeof m.uid !== 'string' ||
    typeof m.url !== 'string' ||
    typeof m.ready !== 'boolean' ||
    (m.bootstrapPort !== undefined && !isJsonNumber(m.bootstrapPort)) ||
    (m.dpRank !== undefined && !isJsonNumber(m.dpRank)) ||
    definedKeys(m) !== 4 + optional
  ) {
    return canonicalJson(m);
  }
  const port = m.bootstrapPort === undefined ? '' : `"bootstrapPort":${JSON.stringify(m.bootstrapPort)},`;
  const rank = m.dpRank === undefined ? '' : `"dpRank":${JSON.stringify(m.dpRank)},`;
  return `{${port}${rank}"name":${JSON.stringify(m.name)},"ready":${m.ready},"uid":${JSON.stringify(m.uid)},"url":${JSON.stringify(m.url)}}`;
}

/** The member's canonical JSON (cached on the member object while its fields stay the same). */
export function memberJson(m: Member): string {
  return cachedMember(m).json;
}

/**
 * murmur64a of `${role}\n${memberJson(m)}`, kept in the member cache unless `cache` is false: a whole
 * membership hashed once (a proxy's first snapshot) is not worth 10,000 weak entries, which every full
 * garbage collection then walks while the event loop waits.
 */
function memberDigest(m: Member, role: Role, cache = true): { hi: number; lo: number } {
  if (!cache) {
    const h = murmur64a(fingerprintEncoder.encode(`${role}\n${encodeMember(m)}`));
    return { hi: h.hi >>> 0, lo: h.lo >>> 0 };
  }
  const c = cachedMember(m);
  if (c.digest?.role !== role) {
    const h = murmur64a(fingerprintEncoder.encode(`${role}\n${c.json}`));
    c.digest = { role, hi: h.hi >>> 0, lo: h.lo >>> 0 };
  }
  return c.digest;
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
