import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type Clock, realClock, type TimerHandle } from './clock.ts';
import { Engine } from './engine.ts';
import { SimHttpError } from './errors.ts';
import { createRandom, deterministicUuid, hashString } from './hash.ts';
import { sendError, sendJson } from './http-util.ts';
import { handleInference } from './inference.ts';
import { KvStore } from './kv-store.ts';
import { E2E_BUCKETS_SECONDS, Histogram, ITL_BUCKETS_SECONDS, renderMetrics, TTFT_BUCKETS_SECONDS } from './metrics.ts';
import {
  assertSpeed,
  DEFAULT_GENERATION,
  DEFAULT_TIMING,
  type Faults,
  type GenerationOptions,
  NO_FAULTS,
  type TimingOptions,
  validateFaults,
} from './options.ts';
import { type FallbackReason, newPodCounters, type PodContext, type PodCounters, type PodRole } from './pod-context.ts';
import type { SimRoute } from './request.ts';
import { modelsBody } from './wire.ts';

/** Idle keep-alive of pod connections: longer than the idle timeout of common client pools. */
export const POD_KEEP_ALIVE_TIMEOUT_MS = 75_000;

/** The settings a pod takes that a fleet passes on to each of its pods unchanged. */
export interface SimPodSettings {
  /** Bind address (default 127.0.0.1). */
  readonly host?: string;
  /** Host advertised in url and kv_transfer_params.remote_host (default: host, or 127.0.0.1 for a wildcard). */
  readonly advertiseHost?: string;
  readonly seed?: number;
  readonly timing?: Partial<TimingOptions>;
  readonly generation?: Partial<GenerationOptions>;
  /** Faults the pod starts with. */
  readonly faults?: Partial<Faults>;
  /** Time source (tests pass a FakeClock). */
  readonly clock?: Clock;
}

export interface SimPodOptions extends SimPodSettings {
  readonly name: string;
  readonly role: PodRole;
  /** 0 (default) = a random free port; kept across stop()/start(). */
  readonly port?: number;
}

export interface SimPodStats {
  name: string;
  role: PodRole;
  url: string;
  engineId: string;
  up: boolean;
  ready: boolean;
  requests: number;
  prefillRequests: number;
  remotePrefillHits: number;
  localPrefillFallbacks: number;
  fallbackReasons: Record<FallbackReason, number>;
  cancelled: number;
  dropped: number;
  backpressurePauses: number;
  completed: number;
  rejected: number;
  injectedErrors: Record<string, number>;
  promptTokens: number;
  generationTokens: number;
  prefixCacheQueries: number;
  prefixCacheHits: number;
  running: number;
  waiting: number;
  kvCacheUsage: number;
  kvEntriesHeld: number;
  kvFetchesServed: number;
  latencySpikes: number;
  faults: Faults;
  speed: number;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** One simulated vLLM server on its own port, with its own engine, identity and metrics. */
export class SimPod {
  readonly name: string;
  readonly role: PodRole;
  readonly host: string;
  readonly advertiseHost: string;
  readonly timing: Readonly<TimingOptions>;
  readonly generation: Readonly<GenerationOptions>;
  private readonly seed: number;
  private readonly clock: Clock;
  private readonly engine: Engine;
  private readonly kvStore: KvStore;
  private readonly random: () => number;
  private readonly ttft = new Histogram(TTFT_BUCKETS_SECONDS);
  private readonly itl = new Histogram(ITL_BUCKETS_SECONDS);
  private readonly e2e = new Histogram(E2E_BUCKETS_SECONDS);
  private counters: PodCounters = newPodCounters();
  private currentFaults: Faults;
  private boundPort: number;
  private server: http.Server | undefined;
  /** The open connections, so stop() can wait for their 'close' handlers (which count cancellations). */
  private readonly sockets = new Set<Socket>();
  private incarnation = 0;
  private currentEngineId: string;
  private notReadyUntil = 0;
  private lifetimeCounter = 0;
  private nextBlockId = 1;
  private sweepTimer: TimerHandle | undefined;
  private readonly context: PodContext;

  constructor(options: SimPodOptions) {
    this.name = options.name;
    this.role = options.role;
    this.host = options.host ?? '127.0.0.1';
    this.advertiseHost = options.advertiseHost ?? (WILDCARD_HOSTS.has(this.host) ? '127.0.0.1' : this.host);
    this.boundPort = options.port ?? 0;
    this.seed = options.seed ?? 0;
    this.clock = options.clock ?? realClock;
    this.timing = Object.freeze({ ...DEFAULT_TIMING, ...options.timing });
    assertSpeed(this.name, this.timing.speed);
    this.generation = Object.freeze({ ...DEFAULT_GENERATION, ...options.generation });
    const initialFaults = validateFaults(options.faults ?? {});
    if (!initialFaults.ok) throw new RangeError(initialFaults.error);
    this.currentFaults = { ...NO_FAULTS, ...initialFaults.faults };
    this.random = createRandom(hashString(this.name, this.seed));
    this.currentEngineId = deterministicUuid(this.seed, `${this.name}/0`);
    this.engine = new Engine({
      timing: this.timing,
      clock: this.clock,
      random: this.random,
      faults: () => this.currentFaults,
    });
    this.kvStore = new KvStore((entry) => this.engine.holdBlocks(-entry.blockIds.length));
    const pod = this;
    this.context = {
      name: this.name,
      role: this.role,
      seed: this.seed,
      clock: this.clock,
      engine: this.engine,
      kvStore: this.kvStore,
      timing: this.timing,
      generation: this.generation,
      modelJson: JSON.stringify(this.generation.model),
      get counters() {
        return pod.counters;
      },
      ttft: this.ttft,
      itl: this.itl,
      e2e: this.e2e,
      random: this.random,
      faults: () => this.currentFaults,
      engineId: () => this.currentEngineId,
      advertisedHost: () => this.advertiseHost,
      port: () => this.boundPort,
      isReady: () => this.isReady(),
      lifetime: () => this.lifetimeCounter,
      allocateBlockIds: (count) => {
        const ids: number[] = [];
        for (let i = 0; i < count; i++) ids.push(this.nextBlockId++);
        return ids;
      },
    };
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://${urlHost(this.advertiseHost)}:${this.boundPort}`;
  }

  /** vLLM's engine id of the current incarnation (a restart gets a new one, like a restarted server). */
  get engineId(): string {
    return this.currentEngineId;
  }

  get up(): boolean {
    return this.server !== undefined;
  }

  isReady(): boolean {
    return this.clock.now() >= this.notReadyUntil;
  }

  faults(): Faults {
    return { ...this.currentFaults };
  }

  /** Changes fault switches at runtime; notReadyMs (re)starts a not-ready period from now. */
  setFaults(f: Partial<Faults>): void {
    const checked = validateFaults(f);
    if (!checked.ok) throw new RangeError(checked.error);
    this.currentFaults = { ...this.currentFaults, ...f };
    if (f.notReadyMs !== undefined) this.notReadyUntil = this.clock.now() + f.notReadyMs;
  }

  /** Starts listening (again, on the same port after stop()). */
  async start(): Promise<void> {
    if (this.server !== undefined) return;
    this.incarnation++;
    this.notReadyUntil = this.clock.now() + this.currentFaults.notReadyMs;
    const server = http.createServer((req, res) => this.route(req, res));
    server.keepAliveTimeout = POD_KEEP_ALIVE_TIMEOUT_MS;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(this.boundPort, this.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.boundPort = (server.address() as AddressInfo).port;
    // Derived from the reachable address too: pods of two fleets with the same seed and names never
    // share an engine id. Each start is a new incarnation, as a restarted vLLM gets a new engine id.
    this.currentEngineId = deterministicUuid(this.seed, `${this.name}@${this.url}#${this.incarnation}`);
    this.server = server;
    this.scheduleSweep();
  }

  /**
   * Closes the listener and every connection: clients see refused connections. KV and running work are lost.
   * Resolves once every connection has closed, so what their close handlers count is counted by then.
   */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.lifetimeCounter++;
    this.server = undefined;
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
    this.engine.reset();
    this.kvStore.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const socketsClosed = [...this.sockets].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
    server.closeAllConnections();
    await Promise.all([closed, ...socketsClosed]);
  }

  /** Expired KV entries free their blocks even when no decode pod asks for them. */
  private scheduleSweep(): void {
    const everyMs = Math.max(1_000, Math.min(this.timing.kvTtlMs, 30_000));
    this.sweepTimer = this.clock.schedule(everyMs, () => {
      this.kvStore.sweep(this.clock.now());
      if (this.server !== undefined) this.scheduleSweep();
    });
  }

  stats(): SimPodStats {
    const c = this.counters;
    const e = this.engine.counters;
    return {
      name: this.name,
      role: this.role,
      url: this.url,
      engineId: this.currentEngineId,
      up: this.up,
      ready: this.up && this.isReady(),
      requests: c.requests,
      prefillRequests: c.prefillRequests,
      remotePrefillHits: c.remotePrefillHits,
      localPrefillFallbacks: c.localPrefillFallbacks,
      fallbackReasons: { ...c.fallbacksByReason },
      cancelled: c.cancelled,
      dropped: c.dropped,
      backpressurePauses: c.backpressurePauses,
      completed: c.completed,
      rejected: c.rejected,
      injectedErrors: { ...c.injectedErrorsByStatus },
      promptTokens: e.promptTokens,
      generationTokens: e.generationTokens,
      prefixCacheQueries: e.prefixCacheQueries,
      prefixCacheHits: e.prefixCacheHits,
      running: this.engine.numRunning,
      waiting: this.engine.numWaiting,
      kvCacheUsage: this.engine.kvCacheUsage,
      kvEntriesHeld: this.kvStore.size,
      kvFetchesServed: c.kvFetchesServed,
      latencySpikes: e.latencySpikes,
      faults: { ...this.currentFaults },
      speed: this.timing.speed,
    };
  }

  metricsText(): string {
    this.kvStore.sweep(this.clock.now());
    const c = this.counters;
    const e = this.engine.counters;
    return renderMetrics({
      model: this.generation.model,
      podName: this.name,
      running: this.engine.numRunning,
      waiting: this.engine.numWaiting,
      kvCacheUsage: this.engine.kvCacheUsage,
      prefixCacheQueries: e.prefixCacheQueries,
      prefixCacheHits: e.prefixCacheHits,
      promptTokens: e.promptTokens,
      generationTokens: e.generationTokens,
      successByReason: c.successByReason,
      ttft: this.ttft,
      itl: this.itl,
      e2e: this.e2e,
      requests: c.requests,
      prefillRequests: c.prefillRequests,
      remotePrefillHits: c.remotePrefillHits,
      fallbacksByReason: c.fallbacksByReason,
      cancelled: c.cancelled,
      injectedErrorsByStatus: c.injectedErrorsByStatus,
      kvFetchesServed: c.kvFetchesServed,
      latencySpikes: e.latencySpikes,
    });
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    try {
      this.dispatch(req, res);
    } catch (err) {
      // Bad input (a malformed URL escape, say) answers 400; it never reaches the process.
      req.resume();
      sendError(res, new SimHttpError(400, `bad request: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  private dispatch(req: http.IncomingMessage, res: http.ServerResponse): void {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const method = req.method ?? 'GET';
    const inference: SimRoute | undefined =
      path === '/v1/completions' || path === '/v1/chat/completions' || path === '/v1/responses' ? path : undefined;
    if (inference !== undefined) {
      if (method !== 'POST') {
        this.methodNotAllowed(req, res);
        return;
      }
      handleInference(this.context, inference, req, res).catch((err: unknown) => {
        sendError(res, new SimHttpError(500, `internal error: ${String(err)}`));
      });
      return;
    }
    if (path.startsWith('/sim/kv/')) {
      if (method !== 'GET') {
        this.methodNotAllowed(req, res);
        return;
      }
      this.serveKv(decodeURIComponent(path.slice('/sim/kv/'.length)), rawUrl, res);
      return;
    }
    const getRoutes: Record<string, () => void> = {
      '/health': () => {
        res.writeHead(this.isReady() ? 200 : 503, { 'content-length': 0 });
        res.end();
      },
      '/v1/models': () =>
        sendJson(
          res,
          200,
          modelsBody(this.generation.model, this.generation.maxModelLen, Math.floor(Date.now() / 1000)),
        ),
      '/metrics': () => {
        const text = this.metricsText();
        res.writeHead(200, {
          'content-type': 'text/plain; version=0.0.4; charset=utf-8',
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
      },
      '/sim/stats': () => sendJson(res, 200, this.stats()),
    };
    const handler = getRoutes[path];
    if (handler === undefined) {
      req.resume();
      sendJson(res, 404, { detail: 'Not Found' });
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      this.methodNotAllowed(req, res);
      return;
    }
    handler();
  }

  private methodNotAllowed(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    sendJson(res, 405, { detail: 'Method Not Allowed' });
  }

  /** Side channel: a decode pod pulls (and so frees) the KV blocks of a finished prefill. */
  private serveKv(remoteRequestId: string, rawUrl: string, res: http.ServerResponse): void {
    const wantedEngine = new URL(rawUrl, 'http://pod').searchParams.get('engine_id');
    if (wantedEngine !== null && wantedEngine !== this.currentEngineId) {
      sendJson(res, 409, { reason: 'wrong_engine', engine_id: this.currentEngineId });
      return;
    }
    const result = this.kvStore.take(remoteRequestId, this.clock.now());
    if (!result.ok) {
      sendJson(res, result.reason === 'expired' ? 410 : 404, { reason: result.reason });
      return;
    }
    this.counters.kvFetchesServed++;
    const e = result.entry;
    sendJson(res, 200, {
      engine_id: e.engineId,
      block_ids: e.blockIds,
      prompt_tokens: e.promptTokens,
      prompt_hash: e.promptHash,
    });
  }
}
