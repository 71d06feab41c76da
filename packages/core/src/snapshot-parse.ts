import type { Member, Role, Snapshot } from './snapshot.ts';
import { runToEnd } from './steps.ts';

// Validation of snapshots from the wire (NATS KV), files and flags. Every error names the field
// (`members.prefill[2].url`) and what was wrong, so an operator can fix the producer.

export type ParseSnapshotResult =
  | {
      ok: true;
      snapshot: Snapshot;
      /** Present when parsed with `previous`: the members that joined and left since that snapshot. */
      changes?: SnapshotChanges;
    }
  | { ok: false; error: string };

/**
 * Members of one snapshot that are not in another, per role. A member whose fields changed (a pod
 * turned ready, a new uid) is in both lists: the old object removed, the new one added. Every
 * member of the new snapshot not in `added` is an object of the previous snapshot.
 */
export interface SnapshotChanges {
  readonly added: Readonly<Record<Role, readonly Member[]>>;
  readonly removed: Readonly<Record<Role, readonly Member[]>>;
}

const SNAPSHOT_FIELDS = new Set(['pool', 'epoch', 'seq', 'time', 'members']);
const MEMBER_FIELDS = new Set(['name', 'uid', 'url', 'ready', 'bootstrapPort', 'dpRank']);
const ROLE_NAMES: readonly Role[] = ['prefill', 'decode', 'plain'];
/** Pool names become NATS KV keys: letters, digits, '-', '_', '.', not starting or ending with '.'. */
const POOL_PATTERN = /^[A-Za-z0-9_-](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9_-])?$/;
/** RFC 3339 / ISO 8601 date-time with a zone, as Date.prototype.toISOString and Go's time produce. */
const TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

class SnapshotInvalid extends Error {}

function fail(message: string): never {
  throw new SnapshotInvalid(message);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...` : v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function rejectUnknown(obj: Record<string, unknown>, allowed: Set<string>, where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) fail(`${where}: unknown field "${key}" (expected ${[...allowed].join(', ')})`);
  }
}

function nonNegativeInteger(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    fail(`${where}: must be a non-negative integer, got ${describe(v)}`);
  }
  return v;
}

function nonEmptyString(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(`${where}: must be a non-empty string, got ${describe(v)}`);
  return v;
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const LABEL = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?';
/**
 * URLs the WHATWG parser is known to serialize to their own text: http(s), a dotted-decimal IPv4
 * address or a lower-case DNS name whose last label starts with a letter (so it cannot read as a
 * number) and no label is punycode, an optional port 1-65535 without leading zeros. The pattern
 * leaves the default ports to the parser (which drops them).
 */
const FAST_URL_MAX_LENGTH = 256;
const FAST_URL = new RegExp(
  `^(https?)://(?:${OCTET}(?:\\.${OCTET}){3}|(?:${LABEL}\\.)*[a-z](?:[a-z0-9-]*[a-z0-9])?)(?::([1-9]\\d{0,4}))?$`,
);

/**
 * True when `text` is certainly a valid member URL (see checkMemberUrl) without a URL parse, which
 * costs microseconds: 10,000 of them were tens of milliseconds of every fresh snapshot. False means
 * only "ask the parser".
 */
export function isPlainMemberUrl(text: string): boolean {
  // Bounded, so a hostile string never costs the pattern's backtracking over a megabyte.
  if (text.length > FAST_URL_MAX_LENGTH) return false;
  const m = FAST_URL.exec(text);
  if (m === null) return false;
  // A label "xn--..." is punycode, which the parser validates and may refuse.
  if (text.includes('xn--')) return false;
  const port = m[2];
  if (port === undefined) return true;
  const n = Number(port);
  return n <= 65535 && n !== (m[1] === 'http' ? 80 : 443);
}

/** Member URLs are ring keys, so they must be exactly `scheme://host[:port]`. */
export function checkMemberUrl(v: unknown, where: string): string {
  const text = nonEmptyString(v, where);
  if (isPlainMemberUrl(text)) return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    fail(`${where}: not a URL: ${describe(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(`${where}: must be an http:// or https:// URL, got ${describe(text)}`);
  }
  if (url.username !== '' || url.password !== '') fail(`${where}: must not carry credentials`);
  const origin = `${url.protocol}//${url.host}`;
  if (text !== origin) {
    fail(
      `${where}: must be scheme://host[:port] with no path, query or trailing slash (got ${describe(text)}, use "${origin}")`,
    );
  }
  return text;
}

function parseMember(v: unknown, where: string): Member {
  if (!isPlainObject(v)) fail(`${where}: must be an object, got ${describe(v)}`);
  rejectUnknown(v, MEMBER_FIELDS, where);
  const member: Member = {
    name: nonEmptyString(v.name, `${where}.name`),
    uid: nonEmptyString(v.uid, `${where}.uid`),
    url: checkMemberUrl(v.url, `${where}.url`),
    ready:
      typeof v.ready === 'boolean' ? v.ready : fail(`${where}.ready: must be true or false, got ${describe(v.ready)}`),
  };
  if (v.bootstrapPort !== undefined) {
    const port = v.bootstrapPort;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      fail(`${where}.bootstrapPort: must be a port number 1-65535, got ${describe(port)}`);
    }
    member.bootstrapPort = port;
  }
  if (v.dpRank !== undefined) member.dpRank = nonNegativeInteger(v.dpRank, `${where}.dpRank`);
  return member;
}

/** Misses tolerated before a previous role is indexed by name (a few joiners need no index). */
const LOOKUPS_BEFORE_INDEX = 16;

/**
 * Finds previously validated members by name: usually at the cursor (both lists in the same order,
 * a joiner or leaver shifting the rest by one), else through a name index its caller builds in steps
 * once the cursor has missed a few times (wantsIndex).
 */
class PreviousRole {
  readonly members: readonly Member[];
  /** 1 for each previous member found (reused) so far. */
  readonly found: Uint8Array;
  foundCount = 0;
  #cursor = 0;
  #misses = 0;
  #index: Map<string, number> | undefined;

  constructor(members: readonly Member[]) {
    this.members = members;
    this.found = new Uint8Array(members.length);
  }

  find(name: unknown): number {
    const m = this.members;
    const c = this.#cursor;
    if (m[c]?.name === name) {
      this.#cursor = c + 1;
      return c;
    }
    if (m[c + 1]?.name === name) {
      this.#cursor = c + 2;
      return c + 1;
    }
    if (this.#index === undefined) {
      this.#misses++;
      return -1;
    }
    const at = this.#index.get(name as string);
    if (at === undefined) return -1;
    this.#cursor = at + 1;
    return at;
  }

  /**
   * True once the cursor has missed LOOKUPS_BEFORE_INDEX times without an index: the caller builds it
   * (buildIndex) before the next lookup, which find() would otherwise answer as a miss.
   */
  get wantsIndex(): boolean {
    return this.#index === undefined && this.#misses >= LOOKUPS_BEFORE_INDEX;
  }

  /** Indexes the previous members by name, in steps of INDEX_STEP_MEMBERS (a mass change's first step). */
  *buildIndex(): Generator<void, void> {
    const index = new Map<string, number>();
    for (let i = 0; i < this.members.length; i++) {
      index.set((this.members[i] as Member).name, i);
      if (i % INDEX_STEP_MEMBERS === INDEX_STEP_MEMBERS - 1) yield;
    }
    this.#index = index;
  }

  /** Marks previous member `at` reused; false when it already was (the candidate names it twice). */
  take(at: number): boolean {
    if (this.found[at] === 1) return false;
    this.found[at] = 1;
    this.foundCount++;
    return true;
  }
}

/** True when `v` is `p` field for field, with no other keys: `v` then needs no checks. */
function equalsMember(v: Record<string, unknown>, p: Member): boolean {
  if (v.name !== p.name || v.uid !== p.uid || v.url !== p.url || v.ready !== p.ready) return false;
  if (v.bootstrapPort !== p.bootstrapPort || v.dpRank !== p.dpRank) return false;
  // Equal fields and as many keys as p has defined fields: no unknown key can hide among them.
  let keys = 0;
  for (const _ in v) keys++;
  return keys === 4 + (p.bootstrapPort === undefined ? 0 : 1) + (p.dpRank === undefined ? 0 : 1);
}

/** A previously validated member equal to `v` (see equalsMember), not yet taken by another value. */
function sameAsPrevious(v: unknown, previous: PreviousRole | undefined): Member | undefined {
  if (previous === undefined || !isPlainObject(v)) return undefined;
  const at = previous.find(v.name);
  if (at < 0) return undefined;
  const p = previous.members[at] as Member;
  if (!equalsMember(v, p)) return undefined;
  return previous.take(at) ? p : undefined;
}

/** A role's members by name and by ring key: what the duplicate checks consult. */
interface RoleIndex {
  names: Map<string, Member>;
  ringKeys: Map<string, Member>;
}

// The index of a role array parseSnapshot returned, handed on to the array parsed against it (and
// changed there by the members that left and joined), so a snapshot differing by one pod checks one
// pod for duplicates instead of indexing 10,000. An array whose index moved on builds one again if asked.
const roleIndexes = new WeakMap<readonly Member[], RoleIndex>();

function ringKeyOf(m: Member): string {
  return m.dpRank === undefined ? m.url : `${m.url}@${m.dpRank}`;
}

/** The index of `members`, left attached to it (built and attached when it had none). */
function roleIndexOf(members: readonly Member[]): RoleIndex {
  const index = roleIndexes.get(members);
  if (index !== undefined) return index;
  const names = new Map<string, Member>();
  const ringKeys = new Map<string, Member>();
  for (const m of members) {
    names.set(m.name, m);
    ringKeys.set(ringKeyOf(m), m);
  }
  const built = { names, ringKeys };
  roleIndexes.set(members, built);
  return built;
}

/** The index of `members`, detached from it (its caller moves it on to another array). */
function takeRoleIndex(members: readonly Member[]): RoleIndex {
  const index = roleIndexOf(members);
  roleIndexes.delete(members);
  return index;
}

/**
 * True when no joiner clashes (same name or ring key) with a member that stays or with another joiner.
 * `index` is the previous role's; the members that stay have distinct names and ring keys (it passed
 * the full check), so only a joiner can clash.
 */
function joinersAreDistinct(index: RoleIndex, added: readonly Member[], removed: readonly Member[]): boolean {
  const gone = new Set(removed);
  const joinedNames = new Set<string>();
  const joinedKeys = new Set<string>();
  for (const m of added) {
    const key = ringKeyOf(m);
    const byName = index.names.get(m.name);
    const byKey = index.ringKeys.get(key);
    if (
      (byName !== undefined && !gone.has(byName)) ||
      (byKey !== undefined && !gone.has(byKey)) ||
      joinedNames.has(m.name) ||
      joinedKeys.has(key)
    ) {
      return false;
    }
    joinedNames.add(m.name);
    joinedKeys.add(key);
  }
  return true;
}

/** Moves the previous role's index to `members`: the leavers out, the joiners in. */
function moveRoleIndex(
  index: RoleIndex,
  members: readonly Member[],
  added: readonly Member[],
  removed: readonly Member[],
): void {
  for (const m of removed) {
    if (index.names.get(m.name) === m) index.names.delete(m.name);
    const key = ringKeyOf(m);
    if (index.ringKeys.get(key) === m) index.ringKeys.delete(key);
  }
  for (const m of added) {
    index.names.set(m.name, m);
    index.ringKeys.set(ringKeyOf(m), m);
  }
  roleIndexes.set(members, index);
}

/**
 * The index of `members` (by name and by ring key), built in steps of INDEX_STEP_MEMBERS; fails with
 * the first duplicate name or ring key, naming both positions.
 */
function* indexRole(members: readonly Member[], where: string): Generator<void, RoleIndex> {
  const names = new Map<string, Member>();
  const ringKeys = new Map<string, Member>();
  for (let i = 0; i < members.length; i++) {
    const m = members[i] as Member;
    const sameName = names.get(m.name);
    if (sameName !== undefined) {
      fail(`${where}[${i}].name: duplicate member "${m.name}" (also ${where}[${members.indexOf(sameName)}])`);
    }
    names.set(m.name, m);
    const key = ringKeyOf(m);
    const sameUrl = ringKeys.get(key);
    if (sameUrl !== undefined) {
      fail(`${where}[${i}].url: duplicate member URL ${key} (also ${where}[${members.indexOf(sameUrl)}])`);
    }
    ringKeys.set(key, m);
    if (i % INDEX_STEP_MEMBERS === INDEX_STEP_MEMBERS - 1) yield;
  }
  return { names, ringKeys };
}

/** A role's members and, against a previous role, who joined (validated afresh) and who left. */
interface ParsedRole {
  members: Member[];
  added: Member[];
  removed: Member[];
}

/** Past this share of a role changed, the duplicate check indexes the whole role instead of the changes. */
const INDEXED_CHECK_MAX_SHARE = 0.25;

/** parseSnapshotInSteps yields after this many members validated afresh (about a millisecond's work)... */
export const PARSE_STEP_MEMBERS = 250;
/** ...after this many taken from the previous snapshot unchanged (cheap, until the JIT has not optimised it)... */
const REUSE_STEP_MEMBERS = 1_000;
/** ...and after this many indexed by name and ring key. */
const INDEX_STEP_MEMBERS = 1_000;

function* parseRole(v: unknown, role: Role, previous?: readonly Member[]): Generator<void, ParsedRole> {
  const where = `members.${role}`;
  if (!Array.isArray(v)) fail(`${where}: must be an array, got ${describe(v)}`);
  const prev = previous === undefined ? undefined : new PreviousRole(previous);
  const added: Member[] = [];
  const members: Member[] = [];
  for (let i = 0; i < v.length; i++) {
    const m = v[i] as unknown;
    if (prev?.wantsIndex === true) yield* prev.buildIndex();
    const same = sameAsPrevious(m, prev);
    if (same !== undefined) {
      members.push(same);
      if (i % REUSE_STEP_MEMBERS === REUSE_STEP_MEMBERS - 1) yield;
      continue;
    }
    const parsed = parseMember(m, `${where}[${i}]`);
    added.push(parsed);
    members.push(parsed);
    if (added.length % PARSE_STEP_MEMBERS === 0) yield;
  }
  const removed: Member[] = [];
  if (prev !== undefined && prev.foundCount < prev.members.length) {
    prev.members.forEach((m, i) => {
      if (prev.found[i] === 0) removed.push(m);
    });
  }
  if (previous === undefined || added.length + removed.length > members.length * INDEXED_CHECK_MAX_SHARE) {
    // The index the check builds is kept: the next snapshot, a change of a few pods, moves it on.
    roleIndexes.set(members, yield* indexRole(members, where));
    return { members, added, removed };
  }
  const index = takeRoleIndex(previous);
  // A clash: the full check names both positions.
  if (!joinersAreDistinct(index, added, removed)) yield* indexRole(members, where);
  moveRoleIndex(index, members, added, removed);
  return { members, added, removed };
}

function byName(a: Member, b: Member): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The role after some of its raw values were replaced: `leaving` are raw values `previous` was parsed
 * from (in name order, as parseRole is given them), `arriving` the values in their place. Equal
 * values keep their member; the rest are parsed, and merged into the previous order. Undefined when a
 * full parse must decide: an arriving value that is invalid or clashes, a leaving one that is not in
 * `previous`, a `previous` not in name order.
 */
function* reparseRole(
  previous: readonly Member[],
  leaving: readonly unknown[],
  arriving: readonly unknown[],
): Generator<void, (ParsedRole & { index: RoleIndex }) | undefined> {
  const index = roleIndexOf(previous);
  const old = new Map<string, Member>();
  for (const v of leaving) {
    const name = isPlainObject(v) ? v.name : undefined;
    const m = typeof name === 'string' ? index.names.get(name) : undefined;
    if (m === undefined || old.has(m.name)) return undefined;
    old.set(m.name, m);
  }
  const kept = new Set<Member>();
  const added: Member[] = [];
  for (const v of arriving) {
    const p = isPlainObject(v) && typeof v.name === 'string' ? old.get(v.name) : undefined;
    if (p !== undefined && !kept.has(p) && equalsMember(v as Record<string, unknown>, p)) {
      kept.add(p);
      continue;
    }
    try {
      added.push(parseMember(v, 'members'));
    } catch {
      return undefined;
    }
    if (added.length % PARSE_STEP_MEMBERS === 0) yield;
  }
  const removed = [...old.values()].filter((m) => !kept.has(m)).sort(byName);
  added.sort(byName);
  if (!joinersAreDistinct(index, added, removed)) return undefined;
  if (added.length === 0 && removed.length === 0) return { members: previous as Member[], added, removed, index };
  const gone = new Set(removed);
  const members: Member[] = [];
  let j = 0;
  for (let i = 0; i < previous.length; i++) {
    const m = previous[i] as Member;
    if (i > 0 && byName(previous[i - 1] as Member, m) >= 0) return undefined;
    if (i % INDEX_STEP_MEMBERS === INDEX_STEP_MEMBERS - 1) yield;
    while (j < added.length && byName(added[j] as Member, m) < 0) members.push(added[j++] as Member);
    if (!gone.has(m)) members.push(m);
  }
  while (j < added.length) members.push(added[j++] as Member);
  return { members, added, removed, index };
}

/**
 * parseSnapshot's result for the snapshot that is `previous` with some raw member values replaced
 * (`leaving` out, `arriving` in, per role; leaving values must be ones `previous` was parsed from, as
 * the shards of an assembled snapshot are), with `header`'s pool, epoch, seq and time. The same result
 * as parsing the whole snapshot against `previous`, at a cost that grows with the change and not with
 * the members that stay. Undefined when only the whole parse can say (an invalid or clashing value:
 * its error names the member's position in the whole snapshot).
 */
export function parseSnapshotChange(
  header: { pool: unknown; epoch: unknown; seq: unknown; time: unknown },
  previous: Snapshot,
  leaving: Readonly<Record<Role, readonly unknown[]>>,
  arriving: Readonly<Record<Role, readonly unknown[]>>,
): ParseSnapshotResult | undefined {
  return runToEnd(parseSnapshotChangeInSteps(header, previous, leaving, arriving));
}

/** parseSnapshotChange in steps: yields after every PARSE_STEP_MEMBERS members validated afresh. */
export function* parseSnapshotChangeInSteps(
  header: { pool: unknown; epoch: unknown; seq: unknown; time: unknown },
  previous: Snapshot,
  leaving: Readonly<Record<Role, readonly unknown[]>>,
  arriving: Readonly<Record<Role, readonly unknown[]>>,
): Generator<void, ParseSnapshotResult | undefined> {
  const head = parseSnapshot({ ...header, members: { prefill: [], decode: [] } });
  if (!head.ok) return head;
  const roles: Partial<Record<Role, ParsedRole & { index: RoleIndex }>> = {};
  for (const role of ROLE_NAMES) {
    const parsed = yield* reparseRole(previous.members[role], leaving[role], arriving[role]);
    if (parsed === undefined) return undefined;
    roles[role] = parsed;
  }
  const { prefill, decode, plain } = roles as Record<Role, ParsedRole & { index: RoleIndex }>;
  for (const role of ROLE_NAMES) {
    const r = roles[role] as ParsedRole & { index: RoleIndex };
    if (r.members !== previous.members[role]) {
      roleIndexes.delete(previous.members[role]);
      moveRoleIndex(r.index, r.members, r.added, r.removed);
    }
  }
  return {
    ok: true,
    snapshot: {
      ...head.snapshot,
      members: { prefill: prefill.members, decode: decode.members, plain: plain.members },
    },
    changes: {
      added: { prefill: prefill.added, decode: decode.added, plain: plain.added },
      removed: { prefill: prefill.removed, decode: decode.removed, plain: plain.removed },
    },
  };
}

function* parseObject(
  v: unknown,
  previous?: Snapshot,
): Generator<void, { snapshot: Snapshot; changes?: SnapshotChanges }> {
  if (!isPlainObject(v)) fail(`snapshot: must be a JSON object, got ${describe(v)}`);
  for (const field of ['pool', 'epoch', 'seq', 'time', 'members']) {
    if (v[field] === undefined) fail(`snapshot: missing field "${field}"`);
  }
  rejectUnknown(v, SNAPSHOT_FIELDS, 'snapshot');
  const pool = nonEmptyString(v.pool, 'pool');
  if (!POOL_PATTERN.test(pool)) {
    fail(`pool: ${describe(pool)} is not a valid pool name (letters, digits, '-', '_', '.'; at most 128)`);
  }
  const epoch = nonNegativeInteger(v.epoch, 'epoch');
  const seq = nonNegativeInteger(v.seq, 'seq');
  const time = nonEmptyString(v.time, 'time');
  if (!TIME_PATTERN.test(time) || Number.isNaN(Date.parse(time))) {
    fail(`time: must be an ISO 8601 date-time with a zone (e.g. 2026-01-01T00:00:00.000Z), got ${describe(time)}`);
  }
  const raw = v.members;
  if (!isPlainObject(raw))
    fail(`members: must be an object with prefill, decode and plain arrays, got ${describe(raw)}`);
  for (const key of Object.keys(raw)) {
    if (!(ROLE_NAMES as readonly string[]).includes(key)) {
      fail(`members: unknown role "${key}" (expected prefill, decode or plain)`);
    }
  }
  if (raw.prefill === undefined) fail('members: missing role "prefill"');
  if (raw.decode === undefined) fail('members: missing role "decode"');
  const prefill = yield* parseRole(raw.prefill, 'prefill', previous?.members.prefill);
  const decode = yield* parseRole(raw.decode, 'decode', previous?.members.decode);
  // "plain" may be left out by hand-written files: it is the one role P/D fleets do not use.
  const plain = raw.plain === undefined ? undefined : yield* parseRole(raw.plain, 'plain', previous?.members.plain);
  const snapshot: Snapshot = {
    pool,
    epoch,
    seq,
    time,
    members: { prefill: prefill.members, decode: decode.members, plain: plain?.members ?? [] },
  };
  if (previous === undefined) return { snapshot };
  return {
    snapshot,
    changes: {
      added: { prefill: prefill.added, decode: decode.added, plain: plain?.added ?? [] },
      removed: {
        prefill: prefill.removed,
        decode: decode.removed,
        plain: plain === undefined ? [...previous.members.plain] : plain.removed,
      },
    },
  };
}

export interface ParseSnapshotOptions {
  /**
   * A snapshot this function returned before. Members equal to one of its members (same fields, no
   * others) are taken from it without being checked again, so a 10,000-member snapshot that differs
   * by one pod costs a comparison per member instead of a URL parse per member. The result is the
   * same with or without it.
   */
  previous?: Snapshot;
}

/**
 * Validates a snapshot given as an object or JSON text. Never throws: malformed input yields
 * { ok: false, error } with the field path and the problem.
 */
export function parseSnapshot(input: unknown, options: ParseSnapshotOptions = {}): ParseSnapshotResult {
  return runToEnd(parseSnapshotInSteps(input, options));
}

/**
 * parseSnapshot in steps: the generator yields after every PARSE_STEP_MEMBERS members it validates
 * afresh (members reused from `previous` cost next to nothing) and returns parseSnapshot's result, so
 * a caller on an event loop can let other work run between steps of a 10,000-member parse.
 */
export function* parseSnapshotInSteps(
  input: unknown,
  options: ParseSnapshotOptions = {},
): Generator<void, ParseSnapshotResult> {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (err) {
      return { ok: false, error: `snapshot: invalid JSON: ${err instanceof Error ? err.message : String(err)}` };
    }
  } else if (input instanceof Uint8Array) {
    return yield* parseSnapshotInSteps(new TextDecoder().decode(input), options);
  }
  try {
    return { ok: true, ...(yield* parseObject(value, options.previous)) };
  } catch (err) {
    if (err instanceof SnapshotInvalid) return { ok: false, error: err.message };
    return { ok: false, error: `snapshot: ${err instanceof Error ? err.message : String(err)}` };
  }
}
