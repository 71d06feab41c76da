// Shared in-flight load between proxy replicas (docs/design.md §3.4), the NATS half: every
// --load-share-interval-ms this replica publishes its in-flight legs per pod on the pool's core NATS
// subject (no JetStream: a count is worth something only for a moment), and it sums what the other
// replicas publish there (core FleetLoad), dropping a replica not heard from within
// --load-share-stale-ms. With a scoring policy each message also carries the prefix-index blocks this
// replica learned since its previous one, and the peers' blocks are recorded here (core prefix-share.ts,
// --prefix-share-max-blocks). Its own connection, so the snapshot watch and the load never wait on each
// other; while NATS is away nothing is published and the peers expire, leaving this replica's counts.
import { hostname } from 'node:os';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  encodeLoadMessage,
  FleetLoad,
  type LearnedPrefixes,
  type LearnedWire,
  type PeerView,
  parseLoadMessage,
} from '@pdrouter/core';
import { connectNats } from '@pdrouter/nats-snapshots';
import type { LoadShareSettings } from './config.ts';
import type { Logger } from './logger.ts';
import type { ProxyMetrics } from './metrics.ts';

export interface LoadShareOptions {
  readonly settings: LoadShareSettings;
  readonly nats: {
    readonly url: string;
    readonly credsFile?: string;
    readonly tls?: { caFile?: string; certFile?: string; keyFile?: string };
  };
  /** This replica's own in-flight legs per member (pods with none may be left out). */
  readonly localCounts: () => Iterable<readonly [string, number]>;
  readonly metrics: ProxyMetrics;
  readonly logger: Logger;
  /** This replica's id in the messages (default: host name and a random suffix, new on every start). */
  readonly replicaId?: string;
}

/** The prefix indexes (Routing), when prefixes are shared: what they learned, and what peers learned. */
export interface SharedPrefixes {
  drainLearned(): { wire: LearnedWire | undefined; dropped: number };
  teach(learned: LearnedPrefixes): { recorded: number; notMember: number; incompatible: number; notIndexed: number };
}

export interface LoadShareState {
  readonly replica: string;
  readonly subject: string;
  readonly connected: boolean;
  readonly peers: PeerView[];
}

export class LoadShare {
  readonly replica: string;
  private readonly o: LoadShareOptions;
  private readonly fleet: FleetLoad;
  private nc: NatsConnection | undefined;
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private closed = false;
  private lastError: string | undefined;
  private prefixes: SharedPrefixes | undefined;

  constructor(options: LoadShareOptions) {
    this.o = options;
    this.replica = options.replicaId ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.fleet = new FleetLoad({ self: this.replica, staleMs: options.settings.staleMs });
  }

  /** Connects in the background (retrying until NATS answers) and starts publishing; returns at once. */
  start(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setInterval(() => this.tick(), this.o.settings.intervalMs);
    this.timer.unref();
    void this.connect();
  }

  /** From now on the messages carry what `prefixes` learned, and the peers' blocks are handed to it. */
  sharePrefixes(prefixes: SharedPrefixes): void {
    this.prefixes = prefixes;
  }

  /** The other replicas' in-flight legs on the pod (this replica's own are not included). */
  inFlight(key: string): number {
    return this.fleet.inFlight(key);
  }

  state(): LoadShareState {
    return {
      replica: this.replica,
      subject: this.o.settings.subject,
      connected: this.nc !== undefined && !this.nc.isClosed(),
      peers: this.fleet.peerViews(Date.now()),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const nc = this.nc;
    this.nc = undefined;
    this.sub?.unsubscribe();
    await nc?.close().catch(() => {});
  }

  private async connect(): Promise<void> {
    const { nats, settings, logger } = this.o;
    let nc: NatsConnection;
    try {
      nc = await connectNats({
        url: nats.url,
        name: `pdrouter-proxy-load-${this.replica}`,
        waitOnFirstConnect: true,
        ...(nats.credsFile === undefined ? {} : { credsFile: nats.credsFile }),
        ...(nats.tls === undefined ? {} : { tls: nats.tls }),
      });
    } catch (err) {
      // Bad credentials or URL: the snapshot source reports the same; routing goes on with local counts.
      this.report(`load sharing off: ${(err as Error).message}`);
      return;
    }
    if (this.closed) {
      await nc.close().catch(() => {});
      return;
    }
    this.nc = nc;
    this.sub = nc.subscribe(settings.subject, {
      callback: (err, msg) => {
        if (err) {
          this.report(`load sharing: subscription on ${settings.subject}: ${err.message}`);
          return;
        }
        this.receive(msg.string());
      },
    });
    logger.info('sharing in-flight load', { subject: settings.subject, replica: this.replica });
  }

  private receive(text: string): void {
    const { metrics } = this.o;
    const r = parseLoadMessage(text);
    if (!r.ok) {
      metrics.loadShareMessages.labels('in', 'invalid').inc();
      this.report(`load sharing: a message on ${this.o.settings.subject} was refused: ${r.error}`);
      return;
    }
    const result = this.fleet.ingest(r.message, Date.now());
    if (result === 'own') return;
    metrics.loadShareMessages.labels('in', result === 'ok' ? 'ok' : 'invalid').inc();
    if (result === 'too_many_peers') this.report(`load sharing: more replicas than kept; ${r.message.replica} ignored`);
    metrics.loadSharePeers.set(this.fleet.peerCount);
    const learned = r.message.learned;
    if (result !== 'ok' || learned === undefined || this.prefixes === undefined) return;
    const taught = this.prefixes.teach(learned);
    const blocks = metrics.prefixShareBlocks;
    if (taught.recorded > 0) blocks.labels('in', 'ok').inc(taught.recorded);
    if (taught.notMember > 0) blocks.labels('in', 'not_member').inc(taught.notMember);
    if (taught.notIndexed > 0) blocks.labels('in', 'not_indexed').inc(taught.notIndexed);
    if (taught.incompatible > 0) {
      blocks.labels('in', 'incompatible').inc(taught.incompatible);
      this.report(
        `load sharing: ${r.message.replica} hashes prefixes differently (${learned.hash}, ${learned.block}-character blocks); its blocks are ignored`,
      );
    }
  }

  private tick(): void {
    const { metrics, logger, settings } = this.o;
    const expired = this.fleet.expire(Date.now());
    if (expired.length > 0) {
      metrics.loadSharePeersExpired.inc(expired.length);
      logger.warn('load sharing: replicas not heard from, their counts dropped', {
        replicas: expired,
        staleMs: settings.staleMs,
      });
    }
    metrics.loadSharePeers.set(this.fleet.peerCount);
    const nc = this.nc;
    // While NATS is away the learned blocks are dropped too: peers learn them from their own traffic.
    const learned = this.prefixes?.drainLearned();
    if (learned !== undefined && learned.dropped > 0)
      metrics.prefixShareBlocks.labels('out', 'dropped').inc(learned.dropped);
    if (nc === undefined || nc.isClosed()) {
      if (learned?.wire !== undefined)
        metrics.prefixShareBlocks.labels('out', 'dropped').inc(countBlocks(learned.wire));
      return;
    }
    try {
      nc.publish(settings.subject, encodeLoadMessage(this.replica, ++this.seq, this.o.localCounts(), learned?.wire));
      metrics.loadShareMessages.labels('out', 'ok').inc();
      if (learned?.wire !== undefined) metrics.prefixShareBlocks.labels('out', 'ok').inc(countBlocks(learned.wire));
    } catch (err) {
      metrics.loadShareMessages.labels('out', 'failed').inc();
      if (learned?.wire !== undefined)
        metrics.prefixShareBlocks.labels('out', 'dropped').inc(countBlocks(learned.wire));
      this.report(`load sharing: publish on ${settings.subject} failed: ${(err as Error).message}`);
    }
  }

  /** The same problem repeats every interval: it is logged once per change. */
  private report(message: string): void {
    if (message === this.lastError) return;
    this.lastError = message;
    this.o.logger.warn(message);
  }
}

function countBlocks(wire: LearnedWire): number {
  let n = 0;
  for (const role of ['prefill', 'decode', 'plain'] as const) {
    const pods = wire[role];
    if (pods !== undefined) for (const pod in pods) n += pods[pod]?.length ?? 0;
  }
  return n;
}
