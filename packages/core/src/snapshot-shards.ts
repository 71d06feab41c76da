import { canonicalJson } from './canonical-json.ts';
import { murmur64a } from './murmur64a.ts';
import {
  fingerprintOfSum,
  type Member,
  type MembershipSum,
  memberJson,
  membershipSum,
  membershipSumAfter,
  membershipSumAfterInSteps,
  membershipSumInSteps,
  ROLES,
  type Role,
  type Snapshot,
  snapshotFingerprint,
} from './snapshot.ts';
import {
  PARSE_STEP_MEMBERS,
  type ParseSnapshotResult,
  parseSnapshot,
  parseSnapshotChangeInSteps,
  parseSnapshotInSteps,
} from './snapshot-parse.ts';
import { runToEnd } from './steps.ts';
import { u64ToHex } from './u64.ts';

// The sharded encoding of a snapshot (docs/design.md §4.2). The pool's key holds a small manifest (epoch,
// seq, time, fingerprint, member count and the list of shards, each by digest, size and member count);
// the members live in shards, each stored under a key named by its digest, so a shard's content never
// changes under a reader. A member always falls in the same shard (a hash of its role and name), so a
// one-pod change rewrites one shard and the manifest, and a heartbeat rewrites the manifest only.

/** Members per shard aimed at when the shard count is chosen afresh (~37 KB at ~143 bytes per member). */
export const SHARD_TARGET_MEMBERS = 256;
/** The shard count doubles (all shards rewritten once) when the average shard grows past this... */
export const SHARD_MAX_AVERAGE_MEMBERS = 512;
/** ...and halves when it shrinks below this, so a pool hovering at a boundary does not reshuffle. */
export const SHARD_MIN_AVERAGE_MEMBERS = 64;
/** Upper bound of the shard count: a manifest of 4,096 shards is ~300 KB, far below 1 MiB. */
export const MAX_SHARDS = 4096;

export interface ShardRef {
  /** 32 hex digits: murmur64a of the shard's bytes under two seeds. */
  digest: string;
  /** The shard's size in bytes (UTF-8). */
  bytes: number;
  /** Members in the shard, all roles. */
  members: number;
}

export interface SnapshotManifest {
  pool: string;
  epoch: number;
  seq: number;
  time: string;
  /** snapshotFingerprint of the whole membership the shards hold. */
  fingerprint: string;
  /** Members in all shards together. */
  memberCount: number;
  /** In shard-index order (a member of role r and name n is in shard shardIndex(r, n, shards.length)). */
  shards: ShardRef[];
}

export interface EncodedShard extends ShardRef {
  /** The shard's canonical JSON: {"members":{"decode":[...],"plain":[...],"prefill":[...]}}. */
  raw: string;
}

export interface ShardedSnapshot {
  manifest: SnapshotManifest;
  /** Same order as manifest.shards. */
  shards: EncodedShard[];
}

const encoder = new TextEncoder();
const SEED_A = { hi: 0x70647273, lo: 0x68617264 }; // "pdrshard"
const SEED_B = { hi: 0x73686172, lo: 0x64706472 }; // "shardpdr"

/** The digest naming a shard: 128 bits (murmur64a under two seeds) of its UTF-8 bytes, as 32 hex digits. */
export function shardDigest(raw: string | Uint8Array): string {
  const bytes = typeof raw === 'string' ? encoder.encode(raw) : raw;
  return u64ToHex(murmur64a(bytes, SEED_A)) + u64ToHex(murmur64a(bytes, SEED_B));
}

/** The shard a member belongs to among `count` (a power of two): stable while its role and name are. */
export function shardIndex(role: Role, name: string, count: number): number {
  if (count <= 1) return 0;
  return murmur64a(encoder.encode(`${role}\n${name}`)).lo & (count - 1);
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * The shard count for `memberCount` members: the previous count while the average shard stays between
 * SHARD_MIN_AVERAGE_MEMBERS and SHARD_MAX_AVERAGE_MEMBERS, else the power of two nearest to
 * SHARD_TARGET_MEMBERS per shard.
 */
export function chooseShardCount(memberCount: number, previous?: number): number {
  const fresh = Math.min(MAX_SHARDS, nextPowerOfTwo(Math.max(1, Math.ceil(memberCount / SHARD_TARGET_MEMBERS))));
  if (previous === undefined || previous < 1 || previous > MAX_SHARDS || (previous & (previous - 1)) !== 0) {
    return fresh;
  }
  const average = memberCount / previous;
  if (average > SHARD_MAX_AVERAGE_MEMBERS && previous < MAX_SHARDS) return fresh;
  if (average < SHARD_MIN_AVERAGE_MEMBERS && previous > 1) return fresh;
  return previous;
}

/**
 * What the last shardSnapshot given this cache encoded, per shard: the members' canonical JSON per role and the
 * encoded shard. A shard whose members encode to the same JSON as last time is reused, not joined and hashed
 * again, so a one-pod change hashes one shard (a writer keeps one per pool, starting as { count: 0, parts: [] }). Only the shard's own bytes
 * decide a reuse, so a cache can never make a shard differ from what shardSnapshot without it would give.
 */
export interface ShardCache {
  count: number;
  parts: { decode: string[]; plain: string[]; prefill: string[]; shard: EncodedShard }[];
}

/** The member's shard among `count`, remembered per member object while its role, name and count hold. */
const memberShard = new WeakMap<Member, { role: Role; name: string; count: number; index: number }>();

function memberShardIndex(m: Member, role: Role, count: number): number {
  const c = memberShard.get(m);
  if (c !== undefined && c.role === role && c.name === m.name && c.count === count) return c.index;
  const index = shardIndex(role, m.name, count);
  memberShard.set(m, { role, name: m.name, count, index });
  return index;
}

function byName(a: Member, b: Member): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The members in name order: the array itself when it already is (as discovery builds it). */
function inNameOrder(members: readonly Member[]): readonly Member[] {
  for (let i = 1; i < members.length; i++) {
    if (byName(members[i - 1] as Member, members[i] as Member) > 0) return [...members].sort(byName);
  }
  return members;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Splits a snapshot into shards and their manifest. Members are placed by shardIndex, in name order
 * within each role (as encodeSnapshot orders them); `shardCount` defaults to chooseShardCount. With a
 * `cache`, shards whose members did not change since the last call with it are reused.
 */
export function shardSnapshot(s: Snapshot, shardCount?: number, cache?: ShardCache): ShardedSnapshot {
  let total = 0;
  for (const role of ROLES) total += s.members[role].length;
  const count = shardCount ?? chooseShardCount(total);
  const parts = Array.from({ length: count }, () => ({
    decode: [] as string[],
    plain: [] as string[],
    prefill: [] as string[],
    n: 0,
  }));
  for (const role of ROLES) {
    for (const m of inNameOrder(s.members[role])) {
      const part = parts[memberShardIndex(m, role, count)] as (typeof parts)[number];
      part[role].push(memberJson(m));
      part.n++;
    }
  }
  const previous = cache !== undefined && cache.count === count ? cache.parts : undefined;
  const shards = parts.map((p, i): EncodedShard => {
    const last = previous?.[i];
    if (
      last !== undefined &&
      sameStrings(last.decode, p.decode) &&
      sameStrings(last.plain, p.plain) &&
      sameStrings(last.prefill, p.prefill)
    ) {
      return last.shard;
    }
    const raw = `{"members":{"decode":[${p.decode.join(',')}],"plain":[${p.plain.join(',')}],"prefill":[${p.prefill.join(',')}]}}`;
    const bytes = encoder.encode(raw);
    return { digest: shardDigest(bytes), bytes: bytes.length, members: p.n, raw };
  });
  if (cache !== undefined) {
    cache.count = count;
    cache.parts = parts.map((p, i) => ({
      decode: p.decode,
      plain: p.plain,
      prefill: p.prefill,
      shard: shards[i] as EncodedShard,
    }));
  }
  return {
    manifest: {
      pool: s.pool,
      epoch: s.epoch,
      seq: s.seq,
      time: s.time,
      fingerprint: snapshotFingerprint(s),
      memberCount: total,
      shards: shards.map(({ digest, bytes, members }) => ({ digest, bytes, members })),
    },
    shards,
  };
}

/** The manifest's canonical JSON (keys sorted), the value of the pool's key. */
export function encodeManifest(m: SnapshotManifest): string {
  return canonicalJson(m);
}

const MANIFEST_FIELDS = new Set(['pool', 'epoch', 'seq', 'time', 'fingerprint', 'memberCount', 'shards']);
const SHARD_REF_FIELDS = new Set(['digest', 'bytes', 'members']);
const DIGEST_PATTERN = /^[0-9a-f]{32}$/;
const FINGERPRINT_PATTERN = /^[0-9a-f]{16}$/;

export type StoredValue =
  | { kind: 'snapshot'; snapshot: Snapshot }
  | { kind: 'manifest'; manifest: SnapshotManifest }
  | { kind: 'invalid'; error: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function manifestError(v: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(v)) {
    if (!MANIFEST_FIELDS.has(key))
      return `manifest: unknown field "${key}" (expected ${[...MANIFEST_FIELDS].join(', ')})`;
  }
  for (const key of MANIFEST_FIELDS) if (v[key] === undefined) return `manifest: missing field "${key}"`;
  if (!isCount(v.epoch)) return 'manifest.epoch: must be a non-negative integer';
  if (!isCount(v.seq)) return 'manifest.seq: must be a non-negative integer';
  if (!isCount(v.memberCount)) return 'manifest.memberCount: must be a non-negative integer';
  if (typeof v.fingerprint !== 'string' || !FINGERPRINT_PATTERN.test(v.fingerprint)) {
    return 'manifest.fingerprint: must be 16 lowercase hex digits';
  }
  const shards = v.shards;
  if (!Array.isArray(shards) || shards.length === 0 || shards.length > MAX_SHARDS) {
    return `manifest.shards: must be an array of 1 to ${MAX_SHARDS} shards`;
  }
  if ((shards.length & (shards.length - 1)) !== 0) return 'manifest.shards: the shard count must be a power of two';
  let sum = 0;
  for (let i = 0; i < shards.length; i++) {
    const ref = shards[i] as unknown;
    const where = `manifest.shards[${i}]`;
    if (!isObject(ref)) return `${where}: must be an object`;
    for (const key of Object.keys(ref)) if (!SHARD_REF_FIELDS.has(key)) return `${where}: unknown field "${key}"`;
    if (typeof ref.digest !== 'string' || !DIGEST_PATTERN.test(ref.digest)) {
      return `${where}.digest: must be 32 lowercase hex digits`;
    }
    if (!isCount(ref.bytes)) return `${where}.bytes: must be a non-negative integer`;
    if (!isCount(ref.members)) return `${where}.members: must be a non-negative integer`;
    sum += ref.members;
  }
  if (sum !== v.memberCount) return `manifest: the shards hold ${sum} members, memberCount says ${v.memberCount}`;
  return undefined;
}

/**
 * What a pool key holds: a manifest (it has `shards`), a whole snapshot in the single-value encoding
 * (it has `members`; written by discovery before the sharded encoding, or by hand), or neither. The
 * pool, time and epoch plausibility of a manifest are checked the way parseSnapshot checks them.
 */
export function parseStoredValue(raw: string): StoredValue {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return { kind: 'invalid', error: `snapshot: invalid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!isObject(value) || value.shards === undefined) {
    const parsed = parseSnapshot(value);
    return parsed.ok ? { kind: 'snapshot', snapshot: parsed.snapshot } : { kind: 'invalid', error: parsed.error };
  }
  const error = manifestError(value);
  if (error !== undefined) return { kind: 'invalid', error };
  // pool and time: the same rules as a snapshot's, checked by parseSnapshot on an empty membership.
  const header = parseSnapshot({
    pool: value.pool,
    epoch: value.epoch,
    seq: value.seq,
    time: value.time,
    members: { prefill: [], decode: [] },
  });
  if (!header.ok) return { kind: 'invalid', error: `manifest: ${header.error}` };
  return { kind: 'manifest', manifest: value as unknown as SnapshotManifest };
}

/** One shard's members as stored (not yet validated: assembleSnapshot validates the whole). */
export interface ShardContent {
  members: Record<Role, unknown[]>;
}

export type ShardContentResult = { ok: true; content: ShardContent } | { ok: false; error: string };

/** Checks a fetched shard against its reference (digest, size, member count) and reads its JSON. */
export function parseShard(raw: string, ref: ShardRef): ShardContentResult {
  const bytes = encoder.encode(raw);
  const digest = shardDigest(bytes);
  if (digest !== ref.digest) return { ok: false, error: `shard ${ref.digest}: content digest is ${digest}` };
  if (bytes.length !== ref.bytes)
    return { ok: false, error: `shard ${ref.digest}: ${bytes.length} bytes, manifest says ${ref.bytes}` };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return { ok: false, error: `shard ${ref.digest}: invalid JSON: ${(err as Error).message}` };
  }
  const members = isObject(value) ? value.members : undefined;
  if (!isObject(value) || Object.keys(value).length !== 1 || !isObject(members)) {
    return { ok: false, error: `shard ${ref.digest}: must be {"members":{...}}` };
  }
  let n = 0;
  for (const key of Object.keys(members)) {
    if (!(ROLES as readonly string[]).includes(key))
      return { ok: false, error: `shard ${ref.digest}: unknown role "${key}"` };
  }
  for (const role of ROLES) {
    const list = members[role];
    if (!Array.isArray(list)) return { ok: false, error: `shard ${ref.digest}: members.${role} must be an array` };
    n += list.length;
  }
  if (n !== ref.members) return { ok: false, error: `shard ${ref.digest}: ${n} members, manifest says ${ref.members}` };
  return { ok: true, content: { members: members as Record<Role, unknown[]> } };
}

export type AssembleResult =
  | (Extract<ParseSnapshotResult, { ok: true }> & {
      /** The membership sum behind the manifest's fingerprint (moved from `previousSum` when given). */
      sum: MembershipSum;
    })
  | Extract<ParseSnapshotResult, { ok: false }>
  | { ok: false; error: string; mismatch: true };

export interface AssembleOptions {
  /** The membership sum of `previous` (membershipSum's): the fingerprint is then moved by the changes alone. */
  previousSum?: MembershipSum;
  /**
   * Shards whose members were already found in the shard they hash to (the same content at the same
   * index of a manifest with as many shards, assembled before): their placement is not hashed again.
   */
  placed?: readonly boolean[];
  /**
   * The shard contents `previous` was assembled from, in its manifest's order. With `placed` (as many
   * shards), only the shards that changed are parsed against `previous`: a one-pod change costs one
   * shard's members, not the whole membership's. The result is the same without it.
   */
  previousContents?: readonly ShardContent[];
}

/**
 * The whole snapshot from a manifest and its shards' contents (same order as manifest.shards), validated
 * as parseSnapshot validates (`previous` as there). A membership whose fingerprint is not the manifest's,
 * or a member in a shard it does not hash to, is a mismatch (`mismatch: true`), not a view to apply.
 * With `previous` the result has the changes since it; with `options.previousSum` and `options.placed`
 * too, a one-pod change hashes the members of the shards that changed only, not the whole membership.
 */
export function assembleSnapshot(
  manifest: SnapshotManifest,
  contents: readonly ShardContent[],
  previous?: Snapshot,
  options: AssembleOptions = {},
): AssembleResult {
  return runToEnd(assembleSnapshotInSteps(manifest, contents, previous, options));
}

/**
 * assembleSnapshot in steps (see parseSnapshotInSteps): a whole membership validated afresh is
 * validated and hashed a thousand members at a time, so an event loop can run between the steps.
 */
export function* assembleSnapshotInSteps(
  manifest: SnapshotManifest,
  contents: readonly ShardContent[],
  previous?: Snapshot,
  options: AssembleOptions = {},
): Generator<void, AssembleResult> {
  if (contents.length !== manifest.shards.length) {
    return {
      ok: false,
      error: `manifest lists ${manifest.shards.length} shards, ${contents.length} given`,
      mismatch: true,
    };
  }
  const count = manifest.shards.length;
  const placed = options.placed;
  const changed =
    previous !== undefined && placed?.length === count && options.previousContents?.length === count
      ? yield* assembleChange(manifest, contents, previous, placed, options.previousContents)
      : undefined;
  if (changed !== undefined) {
    if (!changed.ok) return changed;
    const moved =
      options.previousSum !== undefined && changed.changes !== undefined
        ? yield* membershipSumAfterInSteps(options.previousSum, changed.changes, PARSE_STEP_MEMBERS)
        : undefined;
    return withSum(manifest, changed, options.previousSum, moved);
  }
  const members: Record<Role, unknown[]> = { prefill: [], decode: [], plain: [] };
  for (let i = 0; i < count; i++) {
    if (placed?.[i] !== true) {
      const wrong = misplaced(manifest, contents, i);
      if (wrong !== undefined) return wrong;
    }
    const content = contents[i] as ShardContent;
    for (const role of ROLES) {
      const out = members[role];
      for (const m of content.members[role]) out.push(m);
    }
    yield;
  }
  for (const role of ROLES) {
    members[role].sort((a, b) => {
      const x = (a as { name?: unknown }).name;
      const y = (b as { name?: unknown }).name;
      return typeof x === 'string' && typeof y === 'string' ? (x < y ? -1 : x > y ? 1 : 0) : 0;
    });
  }
  const parsed = yield* parseSnapshotInSteps(
    { pool: manifest.pool, epoch: manifest.epoch, seq: manifest.seq, time: manifest.time, members },
    previous === undefined ? {} : { previous },
  );
  if (!parsed.ok) return parsed;
  const sum =
    options.previousSum !== undefined && parsed.changes !== undefined
      ? undefined
      : yield* membershipSumInSteps(parsed.snapshot, PARSE_STEP_MEMBERS);
  return withSum(manifest, parsed, options.previousSum, sum);
}

/** A member of a changed shard that hashes to another one: the error assembleSnapshot gives. */
function misplaced(
  manifest: SnapshotManifest,
  contents: readonly ShardContent[],
  i: number,
): AssembleResult | undefined {
  const count = manifest.shards.length;
  for (const role of ROLES) {
    for (const m of (contents[i] as ShardContent).members[role]) {
      const name = isObject(m) ? m.name : undefined;
      if (typeof name === 'string' && shardIndex(role, name, count) !== i) {
        return {
          ok: false,
          error: `shard ${i}: member ${JSON.stringify(name)} belongs in another shard`,
          mismatch: true,
        };
      }
    }
  }
  return undefined;
}

/**
 * The snapshot from the shards that changed since `previous` (those not `placed`): their old members
 * out, their new ones in. Undefined when only parsing the whole can give the result.
 */
function* assembleChange(
  manifest: SnapshotManifest,
  contents: readonly ShardContent[],
  previous: Snapshot,
  placed: readonly boolean[],
  previousContents: readonly ShardContent[],
): Generator<void, ParseSnapshotResult | Extract<AssembleResult, { mismatch: true }> | undefined> {
  const leaving: Record<Role, unknown[]> = { prefill: [], decode: [], plain: [] };
  const arriving: Record<Role, unknown[]> = { prefill: [], decode: [], plain: [] };
  for (let i = 0; i < contents.length; i++) {
    if (placed[i] === true) continue;
    const wrong = misplaced(manifest, contents, i);
    if (wrong !== undefined) return wrong;
    for (const role of ROLES) {
      for (const m of (previousContents[i] as ShardContent).members[role]) leaving[role].push(m);
      for (const m of (contents[i] as ShardContent).members[role]) arriving[role].push(m);
    }
    // Each changed shard's members are hashed to check their placement: a mass change is every shard.
    yield;
  }
  const { pool, epoch, seq, time } = manifest;
  return yield* parseSnapshotChangeInSteps({ pool, epoch, seq, time }, previous, leaving, arriving);
}

/** `parsed` with its membership sum, or a mismatch when that sum is not the manifest's fingerprint. */
function withSum(
  manifest: SnapshotManifest,
  parsed: Extract<ParseSnapshotResult, { ok: true }>,
  previousSum: MembershipSum | undefined,
  whole?: MembershipSum,
): AssembleResult {
  const sum =
    whole ??
    (previousSum !== undefined && parsed.changes !== undefined
      ? membershipSumAfter(previousSum, parsed.changes)
      : membershipSum(parsed.snapshot));
  const fingerprint = fingerprintOfSum(sum);
  if (fingerprint !== manifest.fingerprint) {
    return {
      ok: false,
      error: `the shards' membership has fingerprint ${fingerprint}, the manifest says ${manifest.fingerprint}`,
      mismatch: true,
    };
  }
  return { ...parsed, sum };
}
