import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import {
  ConsistentHashRing,
  DEFAULT_VNODES,
  estimatePromptTokens,
  extractHashKey,
  fbiHash,
  HASH_KEY_MODES,
  type HashKeyMode,
  type HeaderLookup,
  MAX_VNODES,
  memberRingKey,
  prefixRoutingText,
  ROLES,
  type Role,
  ringMembers,
  type Snapshot,
  snapshotFingerprint,
  snapshotFromUrls,
  u64ToHex,
} from '@pdrouter/core';
import { type ScoringArgs, scorerFor } from './explain-scores.ts';
import { loadSnapshot } from './snapshot-input.ts';
import { UsageError } from './usage.ts';

/** Parsed options shared by the commands (node:util parseArgs output, normalised). */
export interface CommandOptions {
  member: string[];
  key: string[];
  keysFile?: string;
  snapshot?: string;
  role?: string;
  vnodes?: string;
  body?: string;
  header: string[];
  prefill: string[];
  decode: string[];
  hashKeyMode?: string;
  prefixBytes?: string;
  pool?: string;
  natsCreds?: string;
  /** explain --policy and its inputs. */
  scoring?: ScoringArgs;
}

export interface CommandIo {
  cwd: string;
  out: (line: string) => void;
  readStdin: () => Promise<string>;
}

function resolvePath(cwd: string, path: string): string {
  return isAbsolute(path) ? path : resolve(cwd, path);
}

async function readText(cwd: string, path: string, what: string): Promise<string> {
  try {
    return await readFile(resolvePath(cwd, path), 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function parseVnodes(value: string | undefined): number {
  if (value === undefined) return DEFAULT_VNODES;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_VNODES) {
    throw new UsageError(`--vnodes must be an integer from 1 to ${MAX_VNODES}, got "${value}"`);
  }
  return n;
}

function parseRole(value: string | undefined): Role {
  if (value === undefined) return 'prefill';
  if (!(ROLES as readonly string[]).includes(value)) {
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}, got "${value}"`);
  }
  return value as Role;
}

export function hashCommand(args: string[], io: CommandIo): void {
  if (args.length !== 1) throw new UsageError(`hash takes exactly one KEY, got ${args.length} arguments`);
  io.out(u64ToHex(fbiHash(args[0] as string)));
}

/** Keys file: one JSON-encoded string per line; blank lines are skipped. */
export function parseKeysFile(text: string, name: string): string[] {
  const keys: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UsageError(`${name}:${i + 1}: not JSON; each line must be a JSON string such as "user:42"`);
    }
    if (typeof value !== 'string') throw new UsageError(`${name}:${i + 1}: must be a JSON string, got ${typeof value}`);
    keys.push(value);
  });
  return keys;
}

export async function routeCommand(args: string[], opts: CommandOptions, io: CommandIo): Promise<void> {
  if (args.length > 0) throw new UsageError(`route takes no positional arguments (got "${args[0]}"); use --key`);
  const vnodes = parseVnodes(opts.vnodes);
  let members: string[];
  if (opts.snapshot !== undefined) {
    if (opts.member.length > 0) throw new UsageError('give either --member or --snapshot, not both');
    const snapshot = await loadSnapshot(opts.snapshot, snapshotOptions(opts, io));
    members = ringMembers(snapshot, parseRole(opts.role));
  } else {
    if (opts.role !== undefined) throw new UsageError('--role only applies with --snapshot');
    members = opts.member;
    // Members are ring keys verbatim (vllm-router hashes the URL string as given): no normalising.
    if (members.length === 0) throw new UsageError('route needs at least one --member URL or a --snapshot');
  }
  if (members.length === 0) throw new Error(`the snapshot has no ready ${parseRole(opts.role)} members`);
  if (opts.key.length > 0 && opts.keysFile !== undefined)
    throw new UsageError('give either --key or --keys-file, not both');
  const keys =
    opts.keysFile !== undefined
      ? parseKeysFile(await readText(io.cwd, opts.keysFile, 'keys file'), opts.keysFile)
      : opts.key;
  if (keys.length === 0) throw new UsageError('route needs --key KEY (repeatable) or --keys-file FILE');
  const ring = new ConsistentHashRing(members, { vnodes });
  for (const key of keys) {
    const hash = fbiHash(key);
    io.out(JSON.stringify({ key, owner: ring.ownerOfHash(hash), hash: u64ToHex(hash) }));
  }
}

function snapshotOptions(opts: CommandOptions, io: CommandIo) {
  return {
    cwd: io.cwd,
    ...(opts.pool !== undefined ? { pool: opts.pool } : {}),
    ...(opts.natsCreds !== undefined ? { natsCreds: opts.natsCreds } : {}),
  };
}

function parseHeaders(values: string[]): HeaderLookup {
  const headers = new Map<string, string>();
  for (const raw of values) {
    const colon = raw.indexOf(':');
    const name = colon > 0 ? raw.slice(0, colon).trim().toLowerCase() : '';
    if (name === '' || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) {
      throw new UsageError(`--header must look like "Name: value", got "${raw}"`);
    }
    const value = raw.slice(colon + 1).trim();
    // Repeated headers arrive joined by ", " on a real request; do the same.
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return (name) => headers.get(name);
}

async function readBody(source: string, io: CommandIo): Promise<unknown> {
  const trimmed = source.trimStart();
  const inline = trimmed.startsWith('{') || trimmed.startsWith('[');
  const text = source === '-' ? await io.readStdin() : inline ? source : await readText(io.cwd, source, 'body file');
  try {
    return JSON.parse(text);
  } catch (err) {
    const where = source === '-' ? 'standard input' : inline ? 'inline --body' : source;
    throw new UsageError(`${where}: the body is not valid JSON (${(err as Error).message})`);
  }
}

function parseMode(value: string | undefined): HashKeyMode {
  if (value === undefined) return 'vllm-router';
  if (!(HASH_KEY_MODES as readonly string[]).includes(value)) {
    throw new UsageError(`--hash-key-mode must be one of ${HASH_KEY_MODES.join(', ')}, got "${value}"`);
  }
  return value as HashKeyMode;
}

function parsePrefixBytes(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new UsageError(`--prefix-bytes must be a positive integer, got "${value}"`);
  }
  return Number(value);
}

export async function explainCommand(args: string[], opts: CommandOptions, io: CommandIo): Promise<void> {
  if (args.length > 0) throw new UsageError(`explain takes no positional arguments (got "${args[0]}")`);
  if (opts.body === undefined) throw new UsageError('explain needs --body FILE|JSON|-');
  const mode = parseMode(opts.hashKeyMode);
  const prefixBytes = parsePrefixBytes(opts.prefixBytes);
  const vnodes = parseVnodes(opts.vnodes);
  const headers = parseHeaders(opts.header);
  let snapshot: Snapshot;
  if (opts.snapshot !== undefined) {
    if (opts.prefill.length > 0 || opts.decode.length > 0) {
      throw new UsageError('give either --snapshot or --prefill/--decode, not both');
    }
    snapshot = await loadSnapshot(opts.snapshot, snapshotOptions(opts, io));
  } else {
    if (opts.prefill.length === 0 || opts.decode.length === 0) {
      throw new UsageError('explain needs --snapshot FILE, or at least one --prefill URL and one --decode URL');
    }
    try {
      snapshot = snapshotFromUrls({ prefill: opts.prefill, decode: opts.decode, time: new Date(0).toISOString() });
    } catch (err) {
      throw new UsageError((err as Error).message.replace(/^members\.(prefill|decode)\[\d+\]\.url/, '--$1'));
    }
  }
  const body = await readBody(opts.body, io);
  const key = extractHashKey(headers, body, {
    mode,
    ...(prefixBytes !== undefined ? { prefixBytes } : {}),
  });
  const hash = fbiHash(key);
  const members = {
    prefill: ringMembers(snapshot, 'prefill'),
    decode: ringMembers(snapshot, 'decode'),
    plain: ringMembers(snapshot, 'plain'),
  };
  const scorer = opts.scoring ? await scorerFor(opts.scoring, members, (source) => readBody(source, io)) : undefined;
  const side = (role: Role) => {
    const ring = new ConsistentHashRing(ringMembers(snapshot, role), { vnodes });
    const walk = ring.walkHash(hash);
    const names = new Map(snapshot.members[role].map((m) => [memberRingKey(m), m.name]));
    return {
      owner: walk[0] ?? null,
      ownerName: walk[0] === undefined ? null : (names.get(walk[0]) ?? null),
      failover: walk,
      members: ring.members.length,
      ringFingerprint: ring.fingerprint,
      ...(scorer
        ? { scoring: scorer.score({ role, walk, walkFrom: (h) => ring.walkHash(h), members: ring.members, key, body }) }
        : {}),
    };
  };
  const text =
    typeof body === 'object' && body !== null ? prefixRoutingText(body as Record<string, unknown>) : undefined;
  const result = {
    hashKeyMode: mode,
    key,
    hash: u64ToHex(hash),
    promptTokensEstimate: estimatePromptTokens((body ?? {}) as Record<string, unknown>, text),
    vnodes,
    prefill: side('prefill'),
    decode: side('decode'),
    snapshot:
      opts.snapshot === undefined
        ? null
        : {
            source: opts.snapshot,
            pool: snapshot.pool,
            epoch: snapshot.epoch,
            seq: snapshot.seq,
            fingerprint: snapshotFingerprint(snapshot),
          },
  };
  io.out(JSON.stringify(result, null, 2));
}
