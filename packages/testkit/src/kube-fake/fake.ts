import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveDocument } from './documents.ts';
import { type HandlerContext, handleResource } from './handlers.ts';
import { sendError } from './http-util.ts';
import { writeKubeconfigFile } from './kubeconfig.ts';
import { applyPatch, PATCH_CONTENT_TYPES } from './patch.ts';
import { startedByKubelet, withReadiness } from './pods.ts';
import { LEASES, PODS } from './resources.ts';
import { parseRoute } from './routes.ts';
import { KubeApiError } from './status.ts';
import { ObjectStore } from './store.ts';
import { renderTable, renderTableRow } from './table.ts';
import type { KubeObject } from './types.ts';
import type { ActiveWatch } from './watch.ts';

export interface KubeApiFakeOptions {
  /** Default 0: a random free port on 127.0.0.1. */
  port?: number;
  /** Bearer token in the kubeconfig; a request carrying another token gets 401 (default: random). */
  token?: string;
  /** Namespace of the kubeconfig's context and the default for the helpers (default 'default'). */
  namespace?: string;
  /** Longest a watch stays open before the server ends it (default WATCH_MAX_SECONDS). */
  watchMaxSeconds?: number;
  /** Interval of BOOKMARK events on watches that allow them (default BOOKMARK_INTERVAL_MS). */
  bookmarkIntervalMs?: number;
  /**
   * Simulated kubelet: a pod created without a status becomes Running + Ready with this podIP
   * after `startDelayMs` (default { podIP: '127.0.0.1', startDelayMs: KUBELET_START_DELAY_MS }); false: pods stay as created.
   */
  kubelet?: { podIP?: string; startDelayMs?: number } | false;
  /**
   * Graceful pod deletion: a DELETE without gracePeriodSeconds=0 first sets deletionTimestamp and
   * removes the pod this much later (default 0: removed at once).
   */
  podDeletionGraceMs?: number;
  /** Serve /openapi/v3 (default true). false makes kubectl >= 1.27 behave like older ones (OpenAPI v2 only). */
  openApiV3?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
}

export interface KubeApiFake {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  readonly namespace: string;
  /** A kubeconfig written at start (removed by close()). */
  readonly kubeconfigPath: string;
  /** The cluster-wide resourceVersion (increases on every write). */
  readonly resourceVersion: number;
  /** Watches currently streaming. */
  readonly openWatches: number;
  /** Writes another kubeconfig for this server (e.g. with another default namespace); returns the path. */
  writeKubeconfig(path: string, options?: { namespace?: string }): string;

  createPod(pod: KubeObject): KubeObject;
  getPod(name: string, namespace?: string): KubeObject | undefined;
  listPods(namespace?: string): KubeObject[];
  /** Server-side change of any field (status included), one MODIFIED event. */
  updatePod(name: string, mutate: (pod: KubeObject) => void, namespace?: string): KubeObject;
  /** Strategic-merge patch of any field, status included. */
  patchPod(name: string, patch: Record<string, unknown>, namespace?: string): KubeObject;
  setPodReady(name: string, ready: boolean, namespace?: string): KubeObject;
  /** Sets deletionTimestamp (as a graceful delete does) and leaves the pod in place. */
  markTerminating(name: string, namespace?: string, gracePeriodSeconds?: number): KubeObject;
  deletePod(name: string, namespace?: string): KubeObject;

  getLease(name: string, namespace?: string): KubeObject | undefined;
  leases(namespace?: string): KubeObject[];

  /** Forgets the change history: list/watch from any earlier resourceVersion now gets 410 Gone. */
  compact(): void;
  /** compact(), then every open watch receives the 410 Expired ERROR event and is closed. */
  expireWatches(): void;
  /** Ends every open watch cleanly (as the server's watch timeout does). */
  closeWatches(): void;
  /** true: stops listening and cuts every connection (connection refused); false: listens again, same port and data. */
  setUnreachable(unreachable: boolean): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Requests seen so far (newest last, bounded by REQUEST_LOG_LIMIT). */
  requests(): RecordedRequest[];
  close(): Promise<void>;
}

/** Real servers close watches after 30-60 min; tests want reconnects to happen, so the default is short. */
export const WATCH_MAX_SECONDS = 60;
export const BOOKMARK_INTERVAL_MS = 5_000;
export const KUBELET_START_DELAY_MS = 20;
export const REQUEST_LOG_LIMIT = 2_000;
const HOST = '127.0.0.1';

export async function startKubeApiFake(options: KubeApiFakeOptions = {}): Promise<KubeApiFake> {
  const store = new ObjectStore();
  const token = options.token ?? randomBytes(16).toString('hex');
  const namespace = options.namespace ?? 'default';
  const watches = new Set<ActiveWatch>();
  const timers = new Set<NodeJS.Timeout>();
  const requestLog: RecordedRequest[] = [];
  const kubelet =
    options.kubelet === false
      ? undefined
      : { podIP: '127.0.0.1', startDelayMs: KUBELET_START_DELAY_MS, ...options.kubelet };
  const graceMs = options.podDeletionGraceMs ?? 0;
  const workDir = mkdtempSync(join(tmpdir(), 'pdrouter-kube-'));
  let port = options.port ?? 0;
  let server: Server | undefined;

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      try {
        fn();
      } catch {
        // the object changed or went away meanwhile: nothing left to do
      }
    }, ms);
    t.unref();
    timers.add(t);
  };

  if (kubelet) {
    store.subscribe((event) => {
      if (event.resource !== PODS || event.type !== 'ADDED' || !awaitsKubelet(event.object)) return;
      const { name = '', namespace: ns = '' } = event.object.metadata;
      const uid = event.object.metadata.uid;
      later(kubelet.startDelayMs, () => {
        const pod = store.get(PODS, ns, name);
        if (!pod || pod.metadata.uid !== uid || !awaitsKubelet(pod)) return;
        store.systemUpdate(PODS, ns, name, (p) => Object.assign(p, startedByKubelet(p, kubelet.podIP)));
      });
    });
  }

  const terminate = (ns: string, name: string, graceSeconds: number) =>
    store.systemUpdate(PODS, ns, name, (p) => {
      p.metadata.deletionTimestamp ??= `${new Date(Date.now() + graceSeconds * 1000).toISOString().slice(0, 19)}Z`;
      p.metadata.deletionGracePeriodSeconds = graceSeconds;
    });

  const ctx: HandlerContext = {
    store,
    watchMaxSeconds: options.watchMaxSeconds ?? WATCH_MAX_SECONDS,
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? BOOKMARK_INTERVAL_MS,
    registerWatch: (w) => watches.add(w),
    unregisterWatch: (w) => watches.delete(w),
    deletePodGracefully(ns, name, grace) {
      if (graceMs <= 0 || grace === 0) return undefined;
      const current = store.mustGet(PODS, ns, name);
      if (current.metadata.deletionTimestamp) return current;
      const uid = current.metadata.uid;
      const pod = terminate(ns, name, Math.ceil(graceMs / 1000));
      later(graceMs, () => store.delete(PODS, ns, name, { uid }));
      return pod;
    },
    renderTable,
    renderTableRow,
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    requestLog.push({ method: req.method ?? 'GET', path: url.pathname, query: url.search });
    if (requestLog.length > REQUEST_LOG_LIMIT) requestLog.shift();
    try {
      // kubectl does not send bearer tokens over plain http, so only a wrong token is refused.
      const auth = req.headers.authorization;
      if (auth !== undefined && auth !== `Bearer ${token}`) {
        throw new KubeApiError(401, 'Unauthorized', 'Unauthorized');
      }
      const route = parseRoute(url.pathname);
      if (route.kind === 'resource') return await handleResource(ctx, req, res, route, url.searchParams);
      if (req.method !== 'GET') {
        throw new KubeApiError(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        );
      }
      serveDocument(res, route, url.pathname, {
        serverAddress: `${HOST}:${port}`,
        openApiV3: options.openApiV3 !== false,
      });
    } catch (err) {
      const apiErr =
        err instanceof KubeApiError
          ? err
          : new KubeApiError(500, 'InternalError', err instanceof Error ? err.message : String(err));
      if (!res.headersSent) sendError(res, apiErr);
      else res.destroy();
    }
  };

  const listen = async () => {
    const s = createServer((req, res) => void handle(req, res));
    // Watches are long-lived; the server ends them itself (timeoutSeconds / watchMaxSeconds).
    s.requestTimeout = 0;
    s.headersTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, HOST, () => {
        s.off('error', reject);
        resolve();
      });
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };

  const shutdown = async () => {
    const s = server;
    if (!s) return;
    server = undefined;
    for (const w of [...watches]) w.destroy();
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections();
    await closed;
  };

  await listen();
  const kubeconfigPath = writeKubeconfigFile(join(workDir, 'kubeconfig.yaml'), {
    server: `http://${HOST}:${port}`,
    token,
    namespace,
  });

  const fake: KubeApiFake = {
    get url() {
      return `http://${HOST}:${port}`;
    },
    get port() {
      return port;
    },
    token,
    namespace,
    kubeconfigPath,
    get resourceVersion() {
      return store.resourceVersion;
    },
    get openWatches() {
      return watches.size;
    },
    writeKubeconfig: (path, o = {}) =>
      writeKubeconfigFile(path, { server: fake.url, token, namespace: o.namespace ?? namespace }),

    createPod: (pod) => store.create(PODS, pod.metadata?.namespace ?? namespace, pod),
    getPod: (name, ns = namespace) => store.get(PODS, ns, name),
    listPods: (ns) => store.list(PODS, ns),
    updatePod: (name, mutate, ns = namespace) => store.systemUpdate(PODS, ns, name, mutate),
    patchPod: (name, patch, ns = namespace) =>
      store.systemUpdate(PODS, ns, name, (p) => {
        const patched = applyStrategic(p, patch);
        for (const key of Object.keys(p)) delete p[key];
        Object.assign(p, patched);
      }),
    setPodReady: (name, ready, ns = namespace) =>
      store.systemUpdate(PODS, ns, name, (p) => {
        p.status = withReadiness(p, ready).status;
      }),
    markTerminating: (name, ns = namespace, gracePeriodSeconds = 30) => terminate(ns, name, gracePeriodSeconds),
    deletePod: (name, ns = namespace) => store.delete(PODS, ns, name),

    getLease: (name, ns = namespace) => store.get(LEASES, ns, name),
    leases: (ns) => store.list(LEASES, ns),

    compact() {
      store.bumpResourceVersion();
      store.compact();
    },
    expireWatches() {
      fake.compact();
      for (const w of [...watches])
        w.expire(
          new KubeApiError(
            410,
            'Expired',
            `too old resource version: the watch was compacted (${store.resourceVersion})`,
          ),
        );
    },
    closeWatches() {
      for (const w of [...watches]) w.close();
    },
    async setUnreachable(unreachable) {
      if (unreachable) await shutdown();
      else if (!server) await listen();
    },
    stop: () => shutdown(),
    async start() {
      if (!server) await listen();
    },
    requests: () => [...requestLog],
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await shutdown();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
  return fake;
}

/** Created without any status (kubectl create -f): Pending, no conditions, no IP. */
function awaitsKubelet(pod: KubeObject): boolean {
  const s = pod.status ?? {};
  return s.phase === 'Pending' && s.conditions === undefined && s.podIP === undefined;
}

function applyStrategic(obj: KubeObject, patch: Record<string, unknown>): KubeObject {
  return applyPatch(obj, PATCH_CONTENT_TYPES.strategic, patch) as KubeObject;
}
