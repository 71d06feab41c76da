#!/usr/bin/env node
// Ring micro-benchmarks: `node bench/src/ring.ts [--quick]`.
// Measures hashing a 4 KiB key (the per-request cost of vllm-router's request_hash keys), ring
// lookups, building 1,000 members x 160 vnodes, and how many keys move when membership changes.
// Writes bench/results/ring.json and ring.md (ring-quick.* with --quick).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScriptFlags } from '@pdrouter/cli';
import { ConsistentHashRing, extractHashKey, fbiHash, type HeaderLookup, murmur64a, type U64 } from '@pdrouter/core';

export interface Distribution {
  median: number;
  p10: number;
  p90: number;
}

export interface RingBenchResult {
  name: string;
  command: string;
  date: string;
  machine: { cpu: string; cores: number; node: string; platform: string };
  commit: string;
  quick: boolean;
  hash4KiB: {
    keyBytes: number;
    batches: number;
    callsPerBatch: number;
    fbiHashNs: Distribution;
    murmur64aNs: Distribution;
    extractHashKeyNs: Distribution;
  };
  lookups: {
    members: number;
    vnodes: number;
    ownerOfHashPerSec: number;
    ownerWithHashPerSec: number;
    walkPerSec: number;
  };
  build: { members: number; vnodes: number; ms: Distribution; runs: number; points: number };
  moved: {
    members: number;
    vnodes: number;
    keys: number;
    leaveFraction: number;
    leaveFractionMin: number;
    leaveFractionMax: number;
    leaveIdeal: number;
    leaveOnlyFromLeaver: boolean;
    joinFraction: number;
    joinIdeal: number;
    joinOnlyToJoiner: boolean;
  };
  spread: { members: number; vnodes: number; keys: number; maxOverMean: number; minOverMean: number };
}

const KEY_BYTES = 4096;

/** A fixed-seed generator so every run measures the same keys. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz     .,';
function randomText(rand: () => number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return out;
}

function distribution(values: number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { median: at(0.5), p10: at(0.1), p90: at(0.9) };
}

/** ns per call for `batches` batches of `calls` calls each (after a warm-up). */
function timeBatches(batches: number, calls: number, fn: (i: number) => number): number[] {
  let sink = 0;
  for (let i = 0; i < calls * 10; i++) sink ^= fn(i);
  const perCall: number[] = [];
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) sink ^= fn(i);
    perCall.push(Number(process.hrtime.bigint() - start) / calls);
  }
  // Keeps the results observable so the calls cannot be optimised away.
  if (sink === 0.5) console.log(sink);
  return perCall;
}

function gitCommit(): string {
  try {
    const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 10_000,
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'packages/core', 'bench/src/ring.ts'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 10_000,
    }).trim();
    return dirty === '' ? sha : `${sha}+changes`;
  } catch {
    return 'unknown';
  }
}

function memberUrls(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `http://10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8000`);
}

export function runRingBench(options: { quick?: boolean; command?: string } = {}): RingBenchResult {
  const quick = options.quick === true;
  const rand = xorshift(0x5eed);

  // 1. Hashing a 4 KiB key: fbiHash, its murmur64a pass alone, and the proxy's whole key step.
  const KEYS = 64;
  const keys = Array.from({ length: KEYS }, () => randomText(rand, KEY_BYTES));
  const keyBytes = keys.map((k) => new TextEncoder().encode(k));
  const bodies = keys.map((prompt) => ({ model: 'llama', prompt, max_tokens: 1000, stream: true }));
  const noHeaders: HeaderLookup = () => undefined;
  const batches = quick ? 41 : 201;
  const callsPerBatch = quick ? 50 : 200;
  const fbiHashNs = distribution(timeBatches(batches, callsPerBatch, (i) => fbiHash(keys[i % KEYS] as string).lo));
  const murmur64aNs = distribution(
    timeBatches(batches, callsPerBatch, (i) => murmur64a(keyBytes[i % KEYS] as Uint8Array).lo),
  );
  const extractHashKeyNs = distribution(
    timeBatches(
      batches,
      callsPerBatch,
      (i) => extractHashKey(noHeaders, bodies[i % KEYS], { mode: 'vllm-router' }).length,
    ),
  );

  // 2. Lookups on the seed's 8-member rings.
  const eight = memberUrls(8);
  const ring8 = new ConsistentHashRing(eight);
  const LOOKUPS = quick ? 20_000 : 200_000;
  const hashes: U64[] = Array.from({ length: LOOKUPS }, () => ({
    hi: Math.floor(rand() * 4294967296),
    lo: Math.floor(rand() * 4294967296),
  }));
  const shortKeys = Array.from(
    { length: LOOKUPS },
    (_, i) => `header:x-session-id:${i.toString(36)}-${Math.floor(rand() * 1e9)}`,
  );
  const perSecond = (fn: (i: number) => unknown): number => {
    const runs: number[] = [];
    for (let r = 0; r < (quick ? 3 : 7); r++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < LOOKUPS; i++) fn(i);
      runs.push(LOOKUPS / (Number(process.hrtime.bigint() - start) / 1e9));
    }
    return Math.round(distribution(runs).median);
  };
  const ownerOfHashPerSec = perSecond((i) => ring8.ownerOfHash(hashes[i] as U64));
  const ownerWithHashPerSec = perSecond((i) => ring8.owner(shortKeys[i] as string));
  const walkPerSec = perSecond((i) => ring8.walkHash(hashes[i] as U64));

  // 3. Building 1,000 members x 160 vnodes.
  const thousand = memberUrls(1000);
  const buildRuns = quick ? 2 : 5;
  const buildMs: number[] = [];
  let points = 0;
  for (let r = 0; r < buildRuns; r++) {
    const start = process.hrtime.bigint();
    const ring = new ConsistentHashRing(thousand);
    buildMs.push(Number(process.hrtime.bigint() - start) / 1e6);
    points = ring.size;
  }

  // 4. Keys moved when one of 8 members leaves (ideal: its 1/8) and when a 9th joins (ideal: 1/9).
  const MOVE_KEYS = quick ? 20_000 : 100_000;
  const moveKeys = Array.from({ length: MOVE_KEYS }, (_, i) => `request:${i}-${Math.floor(rand() * 1e12)}`);
  const moveHashes = moveKeys.map((k) => fbiHash(k));
  const before = moveHashes.map((h) => ring8.ownerOfHash(h));
  let leaveMoved = 0;
  let leaveOnlyFromLeaver = true;
  const perLeaver: number[] = [];
  for (const leaver of eight) {
    const after = new ConsistentHashRing(eight.filter((m) => m !== leaver));
    let moved = 0;
    moveHashes.forEach((h, i) => {
      if (after.ownerOfHash(h) !== before[i]) {
        moved++;
        if (before[i] !== leaver) leaveOnlyFromLeaver = false;
      }
    });
    leaveMoved += moved;
    perLeaver.push(moved / MOVE_KEYS);
  }
  const joiner = 'http://10.9.9.9:8000';
  const ring9 = new ConsistentHashRing([...eight, joiner]);
  let joinMoved = 0;
  let joinOnlyToJoiner = true;
  moveHashes.forEach((h, i) => {
    const owner = ring9.ownerOfHash(h);
    if (owner !== before[i]) {
      joinMoved++;
      if (owner !== joiner) joinOnlyToJoiner = false;
    }
  });

  // 5. Load spread of the 8-member ring over the same keys.
  const counts = new Map<string, number>(eight.map((m) => [m, 0]));
  for (const owner of before) counts.set(owner as string, (counts.get(owner as string) ?? 0) + 1);
  const mean = MOVE_KEYS / eight.length;

  const cpus = os.cpus();
  return {
    name: quick ? 'ring-quick' : 'ring',
    command: options.command ?? `node bench/src/ring.ts${quick ? ' --quick' : ''}`,
    date: new Date().toISOString(),
    machine: {
      cpu: cpus[0]?.model ?? 'unknown',
      cores: cpus.length,
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
    },
    commit: gitCommit(),
    quick,
    hash4KiB: { keyBytes: KEY_BYTES, batches, callsPerBatch, fbiHashNs, murmur64aNs, extractHashKeyNs },
    lookups: { members: 8, vnodes: 160, ownerOfHashPerSec, ownerWithHashPerSec, walkPerSec },
    build: { members: 1000, vnodes: 160, ms: distribution(buildMs), runs: buildRuns, points },
    moved: {
      members: 8,
      vnodes: 160,
      keys: MOVE_KEYS,
      leaveFraction: leaveMoved / (MOVE_KEYS * eight.length),
      leaveFractionMin: Math.min(...perLeaver),
      leaveFractionMax: Math.max(...perLeaver),
      leaveIdeal: 1 / 8,
      leaveOnlyFromLeaver,
      joinFraction: joinMoved / MOVE_KEYS,
      joinIdeal: 1 / 9,
      joinOnlyToJoiner,
    },
    spread: {
      members: 8,
      vnodes: 160,
      keys: MOVE_KEYS,
      maxOverMean: Math.max(...counts.values()) / mean,
      minOverMean: Math.min(...counts.values()) / mean,
    },
  };
}

const ns = (d: Distribution) =>
  `${(d.median / 1000).toFixed(2)} µs (p10 ${(d.p10 / 1000).toFixed(2)}, p90 ${(d.p90 / 1000).toFixed(2)})`;
const perSec = (n: number) => `${(n / 1e6).toFixed(2)} M/s`;
const pct = (f: number) => `${(f * 100).toFixed(2)} %`;

/** The result as a Markdown table, with the machine and the command that produced it. */
export function ringBenchMarkdown(r: RingBenchResult): string {
  const rows: [string, string][] = [
    [`fbiHash, ${r.hash4KiB.keyBytes} B key (median of ${r.hash4KiB.batches} batches)`, ns(r.hash4KiB.fbiHashNs)],
    [`murmur64a alone, ${r.hash4KiB.keyBytes} B`, ns(r.hash4KiB.murmur64aNs)],
    [`extractHashKey, vllm-router mode, ${r.hash4KiB.keyBytes} B prompt`, ns(r.hash4KiB.extractHashKeyNs)],
    ['lookups, 8 x 160, precomputed hash (ownerOfHash)', perSec(r.lookups.ownerOfHashPerSec)],
    ['lookups, 8 x 160, short key hashed + looked up (owner)', perSec(r.lookups.ownerWithHashPerSec)],
    ['failover walks, 8 x 160 (walkHash)', perSec(r.lookups.walkPerSec)],
    [
      `build ${r.build.members} x ${r.build.vnodes} (${r.build.points} points, median of ${r.build.runs})`,
      `${r.build.ms.median.toFixed(1)} ms (p10 ${r.build.ms.p10.toFixed(1)}, p90 ${r.build.ms.p90.toFixed(1)})`,
    ],
    [
      `keys moved when 1 of 8 leaves (avg over each member, ${r.moved.keys} keys)`,
      `${pct(r.moved.leaveFraction)}, per member ${pct(r.moved.leaveFractionMin)} to ${pct(r.moved.leaveFractionMax)} (ideal ${pct(r.moved.leaveIdeal)}; only the leaver's keys: ${r.moved.leaveOnlyFromLeaver ? 'yes' : 'NO'})`,
    ],
    [
      'keys moved when a 9th joins',
      `${pct(r.moved.joinFraction)} (ideal ${pct(r.moved.joinIdeal)}; only to the joiner: ${r.moved.joinOnlyToJoiner ? 'yes' : 'NO'})`,
    ],
    [
      `load spread, 8 x 160 over ${r.spread.keys} keys`,
      `max/mean ${r.spread.maxOverMean.toFixed(3)}, min/mean ${r.spread.minOverMean.toFixed(3)}`,
    ],
  ];
  return [
    `# Ring micro-benchmarks${r.quick ? ' (quick)' : ''}`,
    '',
    `Machine: ${r.machine.cpu} (${r.machine.cores} cores), Node ${r.machine.node}, ${r.machine.platform}  `,
    `Commit: ${r.commit}, ${r.date}  `,
    `Command: \`${r.command}\``,
    '',
    '| measure | result |',
    '| --- | --- |',
    ...rows.map(([a, b]) => `| ${a} | ${b} |`),
    '',
  ].join('\n');
}

/** Writes <dir>/<name>.json and .md; returns their paths. */
export function writeRingResults(r: RingBenchResult, dir: string): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${r.name}.json`);
  const md = join(dir, `${r.name}.md`);
  writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(md, ringBenchMarkdown(r));
  return { json, md };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { quick } = parseScriptFlags(
    { program: 'node bench/src/ring.ts', intro: ['The ring micro-benchmarks; write bench/results/ring.{json,md}.'] },
    [{ name: 'quick', type: 'bool', help: 'A shorter run, written to ring-quick.*' }],
  );
  const result = runRingBench({ quick });
  process.stdout.write(ringBenchMarkdown(result));
  const paths = writeRingResults(result, join(dirname(fileURLToPath(import.meta.url)), '../results'));
  process.stdout.write(`\nwrote ${paths.json} and ${paths.md}\n`);
}
