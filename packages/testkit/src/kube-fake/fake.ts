import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveDocument } from './documents.ts';
import { type HandlerContext, handleResource } from './handlers.ts';
import { sendError } from './http-util.ts';
import { writeKubeconfigFile } from './kubeconfig.ts';
import { applyPatch, PATCH_CONTENT_TYPES } from './patch.ts';
import { startedByKubelet, withReadiness } from './pods.ts';
import { Authorizer, requestAttributes } from './rbac.ts';
import { LEASES, PODS } from './resources.ts';
import { parseRoute } from './routes.ts';
import { KubeApiError } from './status.ts';
import { ObjectStore } from './store.ts';
import { renderTable, renderTableRow } from './table.ts';
import { selfSignedCert } from './tls-cert.ts';
import type { KubeObject } from './types.ts';
import type { ActiveWatch } from './watch.ts';

export interface KubeApiFakeOptions {
  /** Default 0: a random free port on 127.0.0.1. */
  port?: number;
  /**
   * Bearer token of the cluster admin (the kubeconfig at kubeconfigPath; every request allowed). Default:
   * random. Every request needs a known token (401 otherwise).
   */
  token?: string;
  /**
   * RBAC objects (Role, RoleBinding, ClusterRole, ClusterRoleBinding; other kinds skipped), e.g. those
   * deploy/ renders; objects without a namespace are in `namespace`. Each subject gets a token of its own
   * (kubeconfigFor), whose requests pass only what its rules allow (403 otherwise).
   */
  rbac?: readonly unknown[];
  /** Namespace of the kubeconfig's context and the default for the helpers (default 'default'). */
  namespace?: string;
  /**
   * Changes kept for watches and paginated lists to resume from (the watch cache's window; default
   * HISTORY_LIMIT_EVENTS); a resourceVersion older than the window gets 410 Expired.
   */
  historyLimitEvents?: number;
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
   * Graceful pod deletion (default true), as the API server does it: a DELETE of a scheduled, running pod
   * sets deletionTimestamp and the pod is removed after its grace period, gracePeriodSeconds of the
   * request (kubectl --grace-period) or else spec.terminationGracePeriodSeconds (default 30); a shorter
   * grace on a second DELETE shortens it; 0 removes it at once. false: every DELETE removes at once.
   */
  gracefulDeletion?: boolean;
  /** Serve /openapi/v3 (default true). false makes kubectl >= 1.27 behave like older ones (OpenAPI v2 only). */
  openApiV3?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
}

export interface KubeApiFake {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** The cluster admin's bearer token (the one in kubeconfigPath). */
  readonly token: string;
  /** PEM certificate of the server, self-signed: the CA a client trusts (the kubeconfigs carry it). */
  readonly caCert: string;
  readonly namespace: string;
  /** The cluster admin's kubeconfig, written at start (removed by close()). */
  readonly kubeconfigPath: string;
  /** The cluster-wide resourceVersion (increases on every write). */
  readonly resourceVersion: number;
  /** Watches currently streaming. */
  readonly openWatches: number;
  /** Writes another kubeconfig for this server (another default namespace, another token); returns the path. */
  writeKubeconfig(path: string, options?: { namespace?: string; token?: string }): string;
  /** Loads more RBAC objects (see options.rbac); returns the users their bindings name. */
  loadRbac(objects: readonly unknown[], namespace?: string): string[];
  /** The users the loaded RBAC bindings name. */
  users(): string[];
  /** The bearer token of a user, e.g. serviceAccountUser('pd', 'pdrouter-discovery'). */
  tokenFor(user: string): string;
  /** A kubeconfig (in the fake's directory) authenticating as `user`; default namespace as given or the fake's. */
  kubeconfigFor(user: string, options?: { namespace?: string }): string;

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
/** The API server's bookmark cadence: about once a minute on a watch that asked for them. */
export const BOOKMARK_INTERVAL_MS = 60_000;
/** What the API server uses when neither the DELETE nor the pod gives a grace period. */
export const DEFAULT_GRACE_SECONDS = 30;
export const KUBELET_START_DELAY_MS = 20;
export const REQUEST_LOG_LIMIT = 2_000;
const HOST = '127.0.0.1';

export async function startKubeApiFake(options: KubeApiFakeOptions = {}): Promise<KubeApiFake> {
  const store = new ObjectStore(options.historyLimitEvents);
  const token = options.token ?? randomBytes(16).toString('hex');
  const authz = new Authorizer(token);
  const tls = selfSignedCert();
  const namespace = options.namespace ?? 'default';
  const watches = new Set<ActiveWatch>();
  const timers = new Set<NodeJS.Timeout>();
  const requestLog: RecordedRequest[] = [];
  const kubelet =
    options.kubelet === false
      ? undefined
      : { podIP: '127.0.0.1', startDelayMs: KUBELET_START_DELAY_MS, ...options.kubelet };
  const graceful = options.gracefulDeletion ?? true;
  const workDir = mkdtempSync(join(tmpdir(), 'pdrouter-kube-'));
  let port = options.port ?? 0;
  let server: Server | undefined;
  const sockets = new Set<Socket>();

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
      p.metadata.deletionTimestamp = `${new Date(Date.now() + graceSeconds * 1000).toISOString().slice(0, 19)}Z`;
      p.metadata.deletionGracePeriodSeconds = graceSeconds;
    });

  const ctx: HandlerContext = {
    store,
    watchMaxSeconds: options.watchMaxSeconds ?? WATCH_MAX_SECONDS,
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? BOOKMARK_INTERVAL_MS,
    registerWatch: (w) => watches.add(w),
    unregisterWatch: (w) => watches.delete(w),
    deletePodGracefully(ns, name, requested) {
      if (!graceful) return undefined;
      const current = store.mustGet(PODS, ns, name);
      const phase = current.status?.phase;
      // Never scheduled or already finished: nothing to stop, so the server deletes at once.
      if (!current.spec?.nodeName || phase === 'Succeeded' || phase === 'Failed') return undefined;
      const specGrace = current.spec.terminationGracePeriodSeconds;
      const grace = Math.max(0, requested ?? (typeof specGrace === 'number' ? specGrace : DEFAULT_GRACE_SECONDS));
      if (grace === 0) return undefined;
      const pending = current.metadata.deletionGracePeriodSeconds;
      // A deletion already under way keeps its deadline unless the new request shortens it.
      if (current.metadata.deletionTimestamp && pending !== undefined && pending <= grace) return current;
      const uid = current.metadata.uid;
      const pod = terminate(ns, name, grace);
      later(grace * 1000, () => store.delete(PODS, ns, name, { uid }));
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
      const user = authz.authenticate(req.headers.authorization);
      const route = parseRoute(url.pathname);
      const attrs = requestAttributes(req.method ?? 'GET', route, url.searchParams);
      if (attrs) authz.authorize(user, attrs);
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
    const s = createServer({ cert: tls.cert, key: tls.key }, (req, res) => void handle(req, res));
    // Watches are long-lived; the server ends them itself (timeoutSeconds / watchMaxSeconds).
    s.requestTimeout = 0;
    s.headersTimeout = 0;
    // Every TCP connection, also those still in the TLS handshake (closeAllConnections only knows
    // connections that reached HTTP), so going unreachable never waits on a half-open one.
    s.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
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
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await closed;
  };

  await listen();
  if (options.rbac) authz.load(options.rbac, namespace);
  const kubeconfig = (path: string, o: { namespace?: string; token?: string } = {}) =>
    writeKubeconfigFile(path, {
      server: `https://${HOST}:${port}`,
      token: o.token ?? token,
      namespace: o.namespace ?? namespace,
      caCert: tls.cert,
    });
  const kubeconfigPath = kubeconfig(join(workDir, 'kubeconfig.yaml'));

  const fake: KubeApiFake = {
    get url() {
      return `https://${HOST}:${port}`;
    },
    get port() {
      return port;
    },
    token,
    caCert: tls.cert,
    namespace,
    kubeconfigPath,
    get resourceVersion() {
      return store.resourceVersion;
    },
    get openWatches() {
      return watches.size;
    },
    writeKubeconfig: (path, o = {}) => kubeconfig(path, o),
    loadRbac: (objects, ns = namespace) => authz.load(objects, ns),
    users: () => authz.users(),
    tokenFor: (user) => authz.tokenFor(user),
    kubeconfigFor: (user, o = {}) =>
      kubeconfig(
        join(workDir, `kubeconfig-${user.replace(/[^A-Za-z0-9_.-]/g, '_')}-${o.namespace ?? namespace}.yaml`),
        {
          namespace: o.namespace,
          token: authz.tokenFor(user),
        },
      ),

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
