// The proxy's side of routing: a Picker per role over one LoadView, the scoring policies' decisions
// counted, their prefix indexes taught by the pod that actually served (and by the blocks peer replicas
// learned, with what was news here collected for them) and swept on --eviction-interval, and selective
// P/D (which requests skip the prefill leg, and why). Scoring itself is core's.
import {
  type ConsistentHashRing,
  LearnedBatch,
  type LearnedPrefixes,
  type LearnedWire,
  type LoadView,
  learnedCompatible,
  type PrefixKey,
  type RoutingDecision,
  type U64,
} from '@pdrouter/core';
import type { ProxyConfig } from './config.ts';
import type { Exchange, LegRole } from './exchange.ts';
import type { ProxyMetrics } from './metrics.ts';
import { type Pick, Picker, type PodView, usesPrefix } from './policies.ts';

/** What the routing needs to know about the request beyond its hash: its routing text's blocks and size. */
export interface RoutingRequest {
  /** The routing text's block hashes (when a scoring policy or selective P/D needs them). */
  readonly prefix?: PrefixKey;
  /** Estimated prompt tokens (core estimatePromptTokens). */
  readonly promptTokens?: number;
}

export type PrefillSkipReason = 'short_prompt' | 'decode_prefix_cached';

export interface RoutingDeps {
  readonly config: ProxyConfig;
  readonly metrics: ProxyMetrics;
  /** Ejections (passive health). */
  readonly health: { isEjected(url: string): boolean };
  /** The load policies read: fleet-wide when replicas share it, else this replica's in-flight legs. */
  readonly load: LoadView;
}

/** What a LoadView is made of: this replica's legs, the other replicas' (shared load) and the pods' gauges. */
export interface LoadParts {
  readonly local: { inFlight(url: string): number };
  /** The other replicas' in-flight legs per pod (load-share.ts); absent in standalone mode. */
  readonly peers?: { inFlight(url: string): number };
  /** The pods' own gauges (pod-scraper.ts); absent when no policy reads them. */
  readonly gauges?: LoadView['signals'];
}

/** The load the policies read: in-flight legs summed over every replica heard from, and fresh pod gauges. */
export function fleetLoadView(parts: LoadParts): LoadView {
  const { local, peers, gauges } = parts;
  return {
    inFlight: peers === undefined ? (u) => local.inFlight(u) : (u) => local.inFlight(u) + peers.inFlight(u),
    signals: gauges ?? (() => undefined),
  };
}

/** This replica's own view: its in-flight legs per pod, no pod gauges. */
export function localLoadView(pods: { inFlight(url: string): number }): LoadView {
  return fleetLoadView({ local: pods });
}

export class Routing {
  readonly view: PodView;
  private readonly pickers: Record<LegRole, Picker>;
  private readonly d: RoutingDeps;
  private readonly timer: NodeJS.Timeout | undefined;
  /** Bound once: a label lookup per served request would cost more than the update. */
  private readonly entriesGauge: Record<LegRole, { set(n: number): void }>;
  /** What the indexes learned since the last shared-load message (absent: prefixes are not shared). */
  private readonly learned: LearnedBatch | undefined;
  /** Reused by learn(): the blocks that were news to the index. */
  private readonly news: number[] = [];
  /** Each role's members: a peer's blocks are recorded only for pods this replica routes to. */
  private readonly members: Record<LegRole, Set<string>> = {
    prefill: new Set(),
    decode: new Set(),
    plain: new Set(),
  };

  constructor(deps: RoutingDeps) {
    this.d = deps;
    const c = deps.config;
    const { load, health } = deps;
    this.view = {
      inFlight: (u) => load.inFlight(u),
      signals: (u) => load.signals(u),
      isEjected: (u) => health.isEjected(u),
    };
    const entries = deps.metrics.prefixIndexEntries;
    this.entriesGauge = {
      prefill: entries.labels('prefill'),
      decode: entries.labels('decode'),
      plain: entries.labels('plain'),
    };
    const opts = { boundedLoadFactor: c.boundedLoadFactor, scoring: c.routing, maxAttempts: c.retry.maxAttempts };
    this.pickers = {
      prefill: new Picker(c.prefillPolicy, opts),
      decode: new Picker(c.decodePolicy, opts),
      plain: new Picker(c.plainPolicy, opts),
    };
    const share = c.loadShare?.prefixMaxBlocks ?? 0;
    if (share > 0 && this.indexed().length > 0)
      this.learned = new LearnedBatch({ maxHashes: share, blockChars: this.blockChars() });
    if (this.indexed().length > 0 && c.routing.evictionIntervalMs > 0) {
      this.timer = setInterval(() => this.sweep(), c.routing.evictionIntervalMs);
      this.timer.unref();
    }
  }

  /** Whether requests need their routing text hashed into blocks (a scoring policy or selective P/D). */
  get needsPrefix(): boolean {
    const c = this.d.config;
    return this.indexed().length > 0 || (c.mode === 'pd' && c.routing.pdMinPromptTokens > 0);
  }

  /** The pods of `role` in the order to try them; a scoring policy's decision is counted. */
  pick(role: LegRole, ring: ConsistentHashRing, hash: U64 | undefined, ex: Exchange & RoutingRequest): Pick {
    const picker = this.pickers[role];
    const p = picker.pick(ring, hash, this.view, ex.hashKey, ex.prefix);
    if (p.decision) this.d.metrics.routingDecisions.labels(role, p.decision.policy, p.decision.reason).inc();
    return p;
  }

  /** What pick() would answer now, without counting a decision (POST /admin/explain). */
  explain(role: LegRole, ring: ConsistentHashRing, hash: U64 | undefined, ex: { hashKey?: string } & RoutingRequest) {
    const picker = this.pickers[role];
    return { policy: picker.name, ...picker.pick(ring, hash, this.view, ex.hashKey, ex.prefix) };
  }

  /** The index of `role` learns that `url` served this request. */
  learn(role: LegRole, ex: RoutingRequest, url: string): void {
    const picker = this.pickers[role];
    const idx = picker.index;
    if (idx === undefined || ex.prefix === undefined) return;
    if (this.learned === undefined) {
      idx.record(ex.prefix, url);
    } else {
      const news = this.news;
      idx.record(ex.prefix, url, news);
      this.learned.add(role, url, news);
      news.length = 0;
    }
    this.entriesGauge[role].set(idx.entries);
  }

  /** What the indexes learned since the last call, for the next shared-load message; how much did not fit. */
  drainLearned(): { wire: LearnedWire | undefined; dropped: number } {
    return this.learned?.drain() ?? { wire: undefined, dropped: 0 };
  }

  /**
   * A peer replica's learned blocks, recorded as if this replica had routed those requests (never passed
   * on: they are not news for the next message). Blocks of another hash or block size are ignored, and so
   * are pods this replica does not route to (not in its snapshot, or gone from it) and roles whose policy
   * here keeps no index.
   */
  teach(learned: LearnedPrefixes): { recorded: number; notMember: number; incompatible: number; notIndexed: number } {
    const out = { recorded: 0, notMember: 0, incompatible: 0, notIndexed: 0 };
    if (this.learned === undefined) return out;
    const compatible = learnedCompatible(learned, this.blockChars());
    for (const [role, pods] of learned.roles) {
      const idx = this.pickers[role].index;
      for (const [pod, hashes] of pods) {
        if (idx === undefined) out.notIndexed += hashes.length;
        else if (!compatible) out.incompatible += hashes.length;
        else if (!this.members[role].has(pod)) out.notMember += hashes.length;
        else {
          idx.record({ hashes, chars: 0 }, pod);
          out.recorded += hashes.length;
        }
      }
      if (idx !== undefined) this.entriesGauge[role].set(idx.entries);
    }
    return out;
  }

  /**
   * Selective P/D: whether this request runs decode-only, and why. A short prompt costs the decode pod
   * little to prefill itself; a decode pod that already served most of the text has that prefix cached.
   */
  skipPrefill(ex: RoutingRequest, decode: RoutingDecision | undefined): PrefillSkipReason | undefined {
    const r = this.d.config.routing;
    if (r.pdMinPromptTokens > 0 && ex.promptTokens !== undefined && ex.promptTokens < r.pdMinPromptTokens)
      return 'short_prompt';
    if (r.skipPrefillCachedRatio > 0 && decode?.winner !== undefined) {
      const s = decode.scores.find((x) => x.url === decode.winner);
      if (s !== undefined && s.prefixChars > 0 && s.prefix >= r.skipPrefillCachedRatio) return 'decode_prefix_cached';
    }
    return undefined;
  }

  /** Pods that left the fleet are forgotten by the indexes. */
  setMembers(role: LegRole, members: readonly string[]): void {
    const set = new Set(members);
    this.members[role] = set;
    this.pickers[role].index?.retainPods(set);
    this.updateGauges();
  }

  /** setMembers for a change known key by key: `joined` became members of `role`, `left` are no more. */
  changeMembers(role: LegRole, joined: readonly string[], left: readonly string[]): void {
    const set = this.members[role];
    for (const k of left) set.delete(k);
    for (const k of joined) set.add(k);
    if (left.length > 0) this.pickers[role].index?.forgetPods(left);
    this.updateGauges();
  }

  /** Trims every index to its budget (the --eviction-interval timer calls it). */
  sweep(): void {
    for (const role of this.indexed()) {
      const removed = this.pickers[role].index?.sweep() ?? 0;
      if (removed > 0) this.d.metrics.prefixIndexEvictions.labels(role).inc(removed);
    }
    this.updateGauges();
  }

  /** For /admin/state and tests: entries and estimated bytes per indexed role. */
  indexSizes(): Partial<Record<LegRole, { entries: number; bytes: number; chars: number }>> {
    const out: Partial<Record<LegRole, { entries: number; bytes: number; chars: number }>> = {};
    for (const role of this.indexed()) {
      const idx = this.pickers[role].index;
      if (idx) out[role] = { entries: idx.entries, bytes: idx.bytes, chars: idx.chars };
    }
    return out;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private updateGauges(): void {
    for (const [role, s] of Object.entries(this.indexSizes())) {
      this.d.metrics.prefixIndexEntries.labels(role).set(s.entries);
      this.d.metrics.prefixIndexBytes.labels(role).set(s.bytes);
    }
  }

  /** The block size of the indexes (one for every role). */
  private blockChars(): number {
    for (const role of this.indexed()) {
      const idx = this.pickers[role].index;
      if (idx !== undefined) return idx.blockChars;
    }
    return 0;
  }

  /** Roles whose policy keeps a prefix index (the roles this mode uses). */
  private indexed(): LegRole[] {
    const roles: LegRole[] = this.d.config.mode === 'pd' ? ['prefill', 'decode'] : ['plain'];
    return roles.filter((r) => usesPrefix(this.pickers[r].name));
  }
}
