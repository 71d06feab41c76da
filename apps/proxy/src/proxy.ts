// Wires the proxy together without listening: state, pods, upstreams, metrics, the snapshot source and
// the Hono app. listen() opens the two listeners; drain()/close() are the shutdown.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { type LoadView, RouterError, routerErrorBody, type Snapshot } from '@pdrouter/core';
import type { Hono } from 'hono';
import { Admission } from './admission.ts';
import { createApp } from './app.ts';
import { BodyBudget } from './body-budget.ts';
import { BodyParser } from './body-parser.ts';
import { applyClientEdge, missingHost } from './client-edge.ts';
import type { ProxyConfig } from './config.ts';
import { EventLoopDelaySampler } from './event-loop-delay.ts';
import { fileSnapshotSource } from './file-snapshot-source.ts';
import { Forwarder } from './forwarder.ts';
import { upstreamAuth, upstreamAuthorization } from './headers.ts';
import { HealthChecker, type HealthProbe, type StartupResult, waitForPods } from './health-checker.ts';
import type * as KubeSourceModule from './kube-source.ts';
import { Lifecycle } from './lifecycle.ts';
import type * as LoadShareModule from './load-share.ts';
import type { LoadShare } from './load-share.ts';
import { type Logger, silentLogger } from './logger.ts';
import { ProxyMetrics } from './metrics.ts';
import { serveMetrics } from './metrics-endpoint.ts';
import { ModelsCache } from './models.ts';
import type * as NatsSourceModule from './nats-source.ts';
import { PodScraper, upstreamMetricsFetch } from './pod-scraper.ts';
import { PodRegistry, systemClock } from './pods.ts';
import { RegistryUpdates, registryUpdate } from './registry-update.ts';
import { type ApplyResult, RouterState } from './router-state.ts';
import { fleetLoadView, Routing } from './routing.ts';
import { type SnapshotSource, staticSnapshotSource } from './snapshot-source.ts';
import { Upstreams } from './upstream.ts';

/** Keep-alive on client connections: longer than typical load balancer idle timeouts (60 s). */
export const CLIENT_KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** How often the pools of pods that left are let go of (once idle). */
const UPSTREAM_RELEASE_INTERVAL_MS = 30_000;

/** Longest interval between two checks of the client header and request timeouts. */
const TIMEOUT_CHECK_MAX_MS = 1000;

export interface ProxyInstance {
  readonly app: Hono;
  readonly config: ProxyConfig;
  readonly state: RouterState;
  readonly pods: PodRegistry;
  readonly metrics: ProxyMetrics;
  readonly routing: Routing;
  readonly lifecycle: Lifecycle;
  readonly source: SnapshotSource;
  /** Reads the pods' /metrics gauges (--pod-metrics-*), when a policy in use scores them. */
  readonly scraper?: PodScraper;
  /** Shares in-flight counts with the other replicas (--load-share-*), in distributed mode. */
  readonly loadShare?: LoadShare;
  /** Starts the snapshot source (the first snapshot is applied before this resolves, when there is one). */
  start(): Promise<void>;
  /** Resolves once every snapshot handed over so far is applied: its table in use, the pod registry and scraper updated. */
  settled(): Promise<void>;
  /**
   * Static pods answering their health endpoint after start() (--worker-startup-timeout-secs); resolves
   * ready at once for discovered members. Not ready: the process exits (main.ts), as vllm-router does.
   */
  readonly startup: Promise<StartupResult>;
  /** Both listeners, then start(); resolves with their URLs. */
  listen(): Promise<{ url: string; metricsUrl: string }>;
  /** Readiness false, new requests 503; resolves true when in-flight requests finished within the timeout. */
  drain(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

export interface ProxyOptions {
  logger?: Logger;
  /** Overrides the source chosen from the config (tests, embedded use). */
  source?: SnapshotSource;
  /** Process metrics (CPU, memory, event loop) in the registry; default true. */
  defaultMetrics?: boolean;
  /** The load policies read (fleet-wide counts, pod gauges); default: this replica's in-flight legs. */
  load?: LoadView;
}

async function sourceFor(config: ProxyConfig, logger: Logger, metrics: ProxyMetrics): Promise<SnapshotSource> {
  const m = config.membership;
  if (m.kind === 'static')
    return staticSnapshotSource({
      pool: config.pool,
      prefill: m.prefill,
      decode: m.decode,
      plain: m.plain,
      dataParallelSize: config.dataParallelSize,
    });
  if (m.kind === 'file') return fileSnapshotSource(m.path);
  if (m.kind === 'kubernetes') {
    // Loaded on demand, like NATS: only --service-discovery needs the Kubernetes client.
    const { kubernetesSnapshotSource }: typeof KubeSourceModule = await import('./kube-source.ts');
    return kubernetesSnapshotSource({
      pool: config.pool,
      membership: m,
      dataParallelSize: config.dataParallelSize,
      onWatchRestart: (role, reason) => {
        if (reason !== 'closed') logger.info('pod watch restarted', { role, reason });
      },
    });
  }
  // Loaded on demand so standalone mode needs no NATS client at all (the type import is erased).
  const { natsSnapshotSource }: typeof NatsSourceModule = await import('./nats-source.ts');
  return natsSnapshotSource({
    url: m.url,
    ...(m.credsFile ? { credsFile: m.credsFile } : {}),
    ...(m.tls ? { tls: m.tls } : {}),
    bucket: m.bucket,
    pool: config.pool,
    onWatchRestart: (cause) => {
      metrics.snapshotWatchRestarts.labels(cause).inc();
      logger.info('snapshot watch re-created', { nats: m.url, pool: config.pool, cause });
    },
    onConnectionEvent: (event, server) => {
      metrics.natsConnectionEvents.labels(event).inc();
      logger.warn(event === 'disconnect' ? 'NATS disconnected' : 'NATS reconnected', { nats: m.url, server });
    },
  });
}

export async function createProxy(config: ProxyConfig, options: ProxyOptions = {}): Promise<ProxyInstance> {
  const logger = options.logger ?? silentLogger;
  const metrics = new ProxyMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const loopDelay = new EventLoopDelaySampler(metrics.eventLoopDelay);
  const state = new RouterState({ vnodes: config.virtualNodes });
  const upstreams = new Upstreams({
    timeouts: config.timeouts,
    ...(config.connectionsPerPod !== undefined ? { connectionsPerPod: config.connectionsPerPod } : {}),
  });
  // Pools of pods that left, once idle, are let go of now and then (Upstreams.release).
  const releaseTimer = setInterval(() => {
    const t = state.table;
    if (t === undefined) return;
    const urls = new Set<string>();
    for (const role of ['prefill', 'decode', 'plain'] as const)
      for (const m of t.snapshot.members[role]) urls.add(m.url);
    upstreams.release(urls);
  }, UPSTREAM_RELEASE_INTERVAL_MS);
  releaseTimer.unref();
  // A probe has no client: it carries --api-key or nothing.
  const probeAuthorization = upstreamAuthorization(upstreamAuth(config), undefined);
  const pods = new PodRegistry({ config: config.health, metrics, logger });
  // A data-parallel rank (url@rank) is probed at its URL, as vllm-router does.
  const probe: HealthProbe = async (key) => {
    const url = state.table?.byKey.get(key)?.url ?? key;
    try {
      const res = await upstreams.request(url, {
        method: 'GET',
        path: config.health.probePath,
        headers: probeAuthorization !== undefined ? { authorization: probeAuthorization } : {},
        signal: AbortSignal.timeout(config.health.probeTimeoutMs),
        headersTimeoutMs: config.health.probeTimeoutMs,
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300;
    } catch {
      return false;
    }
  };
  const healthChecker = new HealthChecker({
    registry: pods,
    probe,
    intervalMs: config.health.probeIntervalMs,
    clock: systemClock,
    metrics,
  });
  const lifecycle = new Lifecycle();
  const source = options.source ?? (await sourceFor(config, logger, metrics));
  const admission = new Admission(config.admission, {
    queueDepth: (n) => metrics.admissionQueueDepth.set(n),
    waited: (seconds) => metrics.admissionQueueWait.observe(seconds),
    rejected: (reason) => metrics.admissionRejections.labels(reason).inc(),
  });
  // Loaded only when asked for: with tracing off no OpenTelemetry code runs or loads.
  const tracing = config.tracing ? new (await import('./tracing.ts')).Tracing(config.tracing) : undefined;
  const bodyBudget = new BodyBudget(config.maxBufferedBodyBytes, metrics);
  const bodyParser = new BodyParser();
  const scraper = config.podMetrics
    ? new PodScraper({
        settings: config.podMetrics,
        fetch: upstreamMetricsFetch(upstreams, probeAuthorization, config.podMetrics.timeoutMs),
        clock: systemClock,
        metrics,
      })
    : undefined;
  const m = config.membership;
  // Loaded on demand, like the NATS snapshot source: standalone mode loads no NATS client.
  const loadShare =
    config.loadShare && m.kind === 'nats'
      ? new ((await import('./load-share.ts')) as typeof LoadShareModule).LoadShare({
          settings: config.loadShare,
          nats: {
            url: m.url,
            ...(m.credsFile ? { credsFile: m.credsFile } : {}),
            ...(m.tls ? { tls: m.tls } : {}),
          },
          localCounts: () => pods.inFlightCounts(),
          metrics,
          logger,
        })
      : undefined;
  const load =
    options.load ??
    fleetLoadView({
      local: pods,
      ...(loadShare ? { peers: loadShare } : {}),
      ...(scraper ? { gauges: (u: string) => scraper.signals(u) } : {}),
    });
  const routing = new Routing({ config, metrics, health: pods, load });
  loadShare?.sharePrefixes(routing);
  const forwarder = new Forwarder({
    routing,
    config,
    state,
    pods,
    upstreams,
    metrics,
    logger,
    lifecycle,
    admission,
    ...(tracing ? { tracing } : {}),
    bodyBudget,
    bodyParser,
  });
  const models = new ModelsCache({ config, state, pods, upstreams, logger });
  const app = createApp({
    config,
    state,
    pods,
    forwarder,
    models,
    lifecycle,
    metrics,
    logger,
    sourceDescription: source.description,
    routing,
    load: {
      view: load,
      ...(scraper ? { scraper } : {}),
      ...(loadShare ? { share: loadShare } : {}),
    },
  });

  const registryUpdates = new RegistryUpdates((err) =>
    logger.error('pod registry update failed', { error: err instanceof Error ? err.message : String(err) }),
  );
  const settled = async () => {
    await state.settled();
    // The last apply's reaction queued its registry update: wait for that and any before it.
    await Promise.resolve();
    await registryUpdates.settled();
  };
  const applySnapshot = (s: Snapshot) => {
    void state.apply(s).then(onApplied);
  };
  const onApplied = (r: ApplyResult) => {
    if (!r.ok) {
      metrics.snapshotsRejected.labels(r.reason).inc();
      logger.warn('snapshot rejected', { source: source.description, reason: r.reason, error: r.error });
      return;
    }
    const t = r.table;
    metrics.snapshotsApplied.inc();
    metrics.snapshotSeq.set(t.snapshot.seq);
    metrics.snapshotEpoch.set(t.snapshot.epoch);
    metrics.ringInfo.reset();
    metrics.snapshotInfo.reset();
    metrics.snapshotInfo.labels(t.snapshot.pool, t.fingerprint, source.description).set(1);
    for (const role of ['prefill', 'decode', 'plain'] as const) {
      const ring = t.rings[role];
      metrics.members.labels(role).set(ring.members.length);
      metrics.ringInfo.labels(role, ring.fingerprint, String(ring.members.length), String(ring.vnodes)).set(1);
    }
    const change = r.previous === undefined ? undefined : t.keyChanges;
    // Merged from the table before: the registries take the change, not 10,000 members again. A large
    // change (a first snapshot, a rolling restart) is applied to them in slices.
    registryUpdates.run(registryUpdate(t, change !== undefined, pods, scraper));
    // A role whose ring is the one before (a heartbeat, another role's change) has the same members.
    for (const role of ['prefill', 'decode', 'plain'] as const) {
      if (t.members[role] === r.previous?.members[role]) continue;
      if (change !== undefined) routing.changeMembers(role, change.roles[role].joined, change.roles[role].left);
      else routing.setMembers(role, t.members[role]);
    }
    // Heartbeats re-send the same membership with a new seq: worth a debug line, not an info one.
    const log = t.fingerprint === r.previous?.fingerprint ? logger.debug : logger.info;
    log('snapshot applied', {
      source: source.description,
      pool: t.snapshot.pool,
      epoch: t.snapshot.epoch,
      seq: t.snapshot.seq,
      fingerprint: t.fingerprint,
      prefill: t.members.prefill.length,
      decode: t.members.decode.length,
      plain: t.members.plain.length,
    });
  };

  let server: Server | undefined;
  let metricsServer: Server | undefined;
  let started = false;
  const stopping = new AbortController();
  let startupDone: (r: StartupResult) => void = () => {};
  const startup = new Promise<StartupResult>((resolve) => {
    startupDone = resolve;
  });
  /** Resolves after the first check of the static pods; the wait goes on in the background. */
  const waitForStaticPods = (): Promise<void> => {
    const t = state.table;
    if (config.membership.kind !== 'static' || !t) {
      startupDone({ ready: true });
      return Promise.resolve();
    }
    lifecycle.waitingForPods = true;
    const roles = config.mode === 'pd' ? [t.members.prefill, t.members.decode] : [t.members.plain];
    let firstRound: () => void = () => {};
    const checked = new Promise<void>((resolve) => {
      firstRound = resolve;
    });
    void waitForPods({
      roles,
      probe,
      settings: config.startup,
      clock: systemClock,
      metrics,
      logger,
      signal: stopping.signal,
      onFirstRound: (ready) => {
        if (ready) lifecycle.waitingForPods = false;
        firstRound();
      },
    }).then((r) => {
      if (r.ready) lifecycle.waitingForPods = false;
      firstRound();
      startupDone(r);
    });
    return checked;
  };

  const proxy: ProxyInstance = {
    app,
    config,
    state,
    pods,
    metrics,
    routing,
    lifecycle,
    source,
    ...(scraper ? { scraper } : {}),
    ...(loadShare ? { loadShare } : {}),
    startup,
    settled,
    async start() {
      if (started) return;
      started = true;
      await source.start(applySnapshot, (reason, kind = 'source') => {
        metrics.snapshotsRejected.labels(kind).inc();
        logger.warn(kind === 'source' ? 'snapshot source problem' : 'snapshot rejected', {
          source: source.description,
          reason: kind,
          error: reason,
        });
      });
      // Rings of a big first snapshot are built off the event loop: start() resolves once they are in.
      await settled();
      // The first check of static pods is part of starting: readiness is right from the first answer.
      await waitForStaticPods();
      healthChecker.start();
      loadShare?.start();
    },
    async listen() {
      const handle = getRequestListener(app.fetch);
      server = createServer(
        {
          keepAliveTimeout: CLIENT_KEEP_ALIVE_TIMEOUT_MS,
          // Checked often enough for --client-header-timeout-ms to hold (Node checks every 30 s by default).
          connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MAX_MS, config.clientEdge.headersMs),
          // A request without Host gets our own clear 400 below rather than Node's empty one.
          requireHostHeader: false,
        },
        (req, res) => {
          if (missingHost(req)) {
            res.writeHead(400, { 'content-type': 'application/json', connection: 'close' });
            res.end(
              JSON.stringify(
                routerErrorBody(
                  new RouterError('invalid_request', 'the request has no Host header (HTTP/1.0 needs one here)'),
                ),
              ),
            );
            return;
          }
          // While draining every answer closes its connection, so keep-alive clients move to another
          // replica after at most one more request (which gets its 503 rather than a reset).
          if (lifecycle.draining) res.setHeader('connection', 'close');
          return handle(req, res);
        },
      );
      applyClientEdge(server, config.clientEdge);
      metricsServer = createServer((req, res) => {
        if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?'))) {
          const t = state.table;
          if (t) metrics.snapshotAge.set((Date.now() - t.appliedAtMs) / 1000);
          serveMetrics(metrics, res);
          return;
        }
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found: metrics are at /metrics\n');
      });
      const listenOn = (s: Server, port: number, host: string) =>
        new Promise<AddressInfo>((resolve, reject) => {
          s.once('error', reject);
          s.listen(port, host, () => {
            s.off('error', reject);
            resolve(s.address() as AddressInfo);
          });
        });
      const a = await listenOn(server, config.port, config.host);
      const m = await listenOn(metricsServer, config.prometheusPort, config.prometheusHost);
      // Listening first: /liveness and /metrics answer while a source is still trying to reach its
      // backend (readiness stays false and requests get 503 until the first snapshot).
      await proxy.start();
      const urlOf = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      return { url: urlOf(config.host, a.port), metricsUrl: `${urlOf(config.prometheusHost, m.port)}/metrics` };
    },
    async drain(timeoutMs = config.drainTimeoutMs) {
      lifecycle.startDraining();
      metrics.draining.set(1);
      // Idle connections are not closed here: one accepted a moment ago may carry a request still in
      // transit, which would then see a reset instead of an answer. Each connection is closed after its
      // next response instead (listen() marks them), and close() ends whatever is left.
      return lifecycle.waitIdle(timeoutMs);
    },
    async close() {
      // Streams still relayed past the drain end with an error event rather than a cut connection.
      lifecycle.cutAll();
      // One turn of the loop so the final events leave before the connections are closed.
      await new Promise((r) => setImmediate(r));
      stopping.abort();
      loopDelay.close();
      clearInterval(releaseTimer);
      healthChecker.close();
      scraper?.close();
      await loadShare?.close();
      await source.close();
      pods.close();
      routing.close();
      await state.close();
      const closeServer = (s: Server | undefined) =>
        new Promise<void>((resolve) => {
          if (!s?.listening) return resolve();
          s.close(() => resolve());
          s.closeAllConnections();
        });
      await Promise.all([closeServer(server), closeServer(metricsServer)]);
      await upstreams.close();
      await tracing?.shutdown();
      await bodyParser.close();
    },
  };
  return proxy;
}
