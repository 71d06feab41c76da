// The HTTP surface, built without listening (tests drive it with app.request()). One error vocabulary:
// RouterError mapped to an OpenAI-shaped body in onError; anything else is a 500 without internals.
import { timingSafeEqual } from 'node:crypto';
import type { HttpBindings } from '@hono/node-server';
import { RouterError, routerErrorBody } from '@pdrouter/core';
import { Hono, type MiddlewareHandler } from 'hono';
import type { ProxyConfig } from './config.ts';
import { corsMiddleware } from './cors.ts';
import type { Forwarder } from './forwarder.ts';
import { KeyValidator } from './key-validation.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { LoadShareState } from './load-share.ts';
import type { Logger } from './logger.ts';
import type { ProxyMetrics } from './metrics.ts';
import type { ModelsCache } from './models.ts';
import type { PodSignalsView } from './pod-scraper.ts';
import type { PodRegistry } from './pods.ts';
import type { GenerationRoute } from './request-body.ts';
import type { RouterState } from './router-state.ts';

export interface AppDeps {
  config: ProxyConfig;
  state: RouterState;
  pods: PodRegistry;
  forwarder: Forwarder;
  models: ModelsCache;
  lifecycle: Lifecycle;
  metrics: ProxyMetrics;
  logger: Logger;
  sourceDescription: string;
  /** The scoring policies' prefix indexes, sized for /admin/state. */
  routing?: { indexSizes(): Record<string, { entries: number; bytes: number; chars: number }> };
  /** The load the policies read, for /admin/state: fleet-wide in-flight, the pods' gauges, the peers heard. */
  load?: {
    view: { inFlight(url: string): number };
    scraper?: { views(): PodSignalsView[] };
    share?: { state(): LoadShareState };
  };
}

const GENERATION_ROUTES: readonly GenerationRoute[] = ['/v1/completions', '/v1/chat/completions', '/v1/responses'];
/**
 * vLLM's other POST routes, forwarded to one pod and named in metrics; any other POST is forwarded too
 * (as vllm-router's transparent proxy does) under the label "other".
 */
export const FORWARDED_ROUTES: readonly string[] = [
  '/v1/embeddings',
  '/v1/rerank',
  '/rerank',
  '/v2/rerank',
  '/v1/score',
  '/score',
  '/tokenize',
  '/detokenize',
  '/v1/audio/transcriptions',
  '/v1/audio/translations',
  '/v1/audio/speech',
  '/pooling',
  '/classify',
];
const FORWARDED_OTHER = 'other';
const forwardedLabel = (path: string): string => (FORWARDED_ROUTES.includes(path) ? path : FORWARDED_OTHER);
const JSON_HEADERS = { 'content-type': 'application/json' };

function jsonError(err: RouterError): Response {
  return new Response(JSON.stringify(routerErrorBody(err)), { status: err.status, headers: JSON_HEADERS });
}

/**
 * Bearer-token check against the ingress keys, in constant time per key; a key that is not one of them
 * may still pass the validation URLs (--api-key-validation-urls) when there are some.
 */
function ingressAuth(keys: readonly string[], validator: KeyValidator | undefined): MiddlewareHandler {
  const encoded = keys.map((k) => Buffer.from(k));
  return async function ingressAuthMiddleware(c, next) {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    const given = match ? Buffer.from(match[1] as string) : undefined;
    const ok = given !== undefined && encoded.some((k) => k.length === given.length && timingSafeEqual(k, given));
    if (!ok && validator) {
      await validator.check(header);
      return next();
    }
    if (!ok)
      throw new RouterError(
        'unauthorized',
        header ? 'invalid API key' : 'missing API key: send Authorization: Bearer <key>',
      );
    await next();
  };
}

/** 127.0.0.0/8 and ::1, also written as IPv4-mapped IPv6. */
export function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || a.startsWith('127.');
}

/** Refuses requests from anywhere but loopback; in-process requests (no socket) are local. */
const loopbackOnly: MiddlewareHandler = async function loopbackOnlyMiddleware(c, next) {
  const address = (c.env as Partial<HttpBindings> | undefined)?.incoming?.socket?.remoteAddress;
  if (address !== undefined && !isLoopback(address)) {
    throw new RouterError(
      'forbidden',
      'admin routes answer only on loopback unless --ingress-api-key is set (then they need a key)',
    );
  }
  await next();
};

export function isReady(deps: Pick<AppDeps, 'config' | 'state' | 'lifecycle'>): { ready: boolean; reason?: string } {
  if (deps.lifecycle.draining) return { ready: false, reason: 'draining' };
  if (deps.lifecycle.waitingForPods)
    return { ready: false, reason: 'waiting for the pods to answer their health endpoint' };
  const t = deps.state.table;
  if (!t) return { ready: false, reason: 'no snapshot yet' };
  if (deps.config.mode === 'pd') {
    if (t.members.prefill.length === 0) return { ready: false, reason: 'no prefill members' };
    if (t.members.decode.length === 0) return { ready: false, reason: 'no decode members' };
  } else if (t.members.plain.length === 0) return { ready: false, reason: 'no worker members' };
  return { ready: true };
}

export function createApp(deps: AppDeps): Hono {
  const { config, forwarder, logger } = deps;
  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof RouterError) {
      if (err.status >= 500) logger.warn('request failed', { path: c.req.path, code: err.code, error: err.message });
      if (GENERATION_ROUTES.includes(c.req.path as GenerationRoute)) deps.metrics.requestError(c.req.path, err.code);
      else if (c.req.method === 'POST' && !c.req.path.startsWith('/admin/'))
        deps.metrics.requestError(forwardedLabel(c.req.path), err.code);
      const res = jsonError(err);
      // A draining replica closes the connection so the client's next request goes to another one; after a
      // body that never arrived whole (408) the connection cannot carry another request.
      if (err.code === 'draining' || err.status === 408) res.headers.set('connection', 'close');
      if (err.retryAfterSeconds !== undefined) res.headers.set('retry-after', String(err.retryAfterSeconds));
      return res;
    }
    logger.error('unexpected error', {
      path: c.req.path,
      error: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    return jsonError(new RouterError('internal_error', 'internal error'));
  });
  app.notFound((c) => jsonError(new RouterError('not_found', `no route for ${c.req.method} ${c.req.path}`)));

  if (config.corsAllowedOrigins.length > 0) app.use('*', corsMiddleware(config.corsAllowedOrigins));
  const ingress =
    config.ingressApiKeys.length > 0 || config.keyValidation
      ? ingressAuth(config.ingressApiKeys, config.keyValidation ? new KeyValidator(config.keyValidation) : undefined)
      : undefined;
  if (ingress) {
    app.use('/v1/*', ingress);
    app.use('/admin/*', ingress);
  } else {
    // Without ingress keys nothing identifies an operator, and /admin/state lists every pod address:
    // it answers only on loopback (kubectl port-forward, exec, a sidecar).
    app.use('/admin/*', loopbackOnly);
  }
  const auth: MiddlewareHandler = ingress ?? ((_c, next) => next());

  for (const route of GENERATION_ROUTES) {
    app.post(route, (c) => forwarder.generation(c, route));
  }

  app.get('/v1/models', async (c) => {
    deps.metrics.route('/v1/models').requests.inc();
    const body = await deps.models.get(c.req.header('authorization'));
    return c.body(body, 200, JSON_HEADERS);
  });

  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/liveness', (c) => c.json({ status: 'ok' }));
  app.get('/readiness', (c) => {
    const r = isReady(deps);
    return c.json(r.ready ? { status: 'ready' } : { status: 'not ready', reason: r.reason }, r.ready ? 200 : 503);
  });

  app.get('/admin/state', (c) => {
    const t = deps.state.table;
    return c.json({
      mode: config.mode,
      draining: deps.lifecycle.draining,
      inFlightRequests: deps.lifecycle.inFlight,
      policies: { prefill: config.prefillPolicy, decode: config.decodePolicy, plain: config.plainPolicy },
      hashKeyMode: config.hashKeyMode,
      source: deps.sourceDescription,
      snapshot: t
        ? {
            pool: t.snapshot.pool,
            epoch: t.snapshot.epoch,
            seq: t.snapshot.seq,
            time: t.snapshot.time,
            fingerprint: t.fingerprint,
            appliedAt: new Date(t.appliedAtMs).toISOString(),
            ageSeconds: (Date.now() - t.appliedAtMs) / 1000,
          }
        : null,
      rings: t
        ? Object.fromEntries(
            (['prefill', 'decode', 'plain'] as const).map((role) => [
              role,
              { fingerprint: t.rings[role].fingerprint, vnodes: t.rings[role].vnodes, members: t.rings[role].members },
            ]),
          )
        : null,
      ejected: deps.pods.ejectedPods(),
      pods: deps.pods.snapshot(),
      prefixIndex: deps.routing?.indexSizes() ?? {},
      load: loadState(deps, t ? [...t.byKey.keys()] : []),
    });
  });

  app.post('/admin/explain', (c) => {
    const route = c.req.query('route') ?? '/v1/completions';
    if (!GENERATION_ROUTES.includes(route as GenerationRoute))
      throw new RouterError('invalid_request', `route must be one of ${GENERATION_ROUTES.join(', ')}, got ${route}`);
    return deps.forwarder.explain(c, route as GenerationRoute);
  });

  // Known paths with the wrong method: 405 with the allowed one, not 404.
  const allowed: [string, string][] = [
    ...GENERATION_ROUTES.map((r) => [r, 'POST'] as [string, string]),
    ['/v1/models', 'GET'],
    ['/health', 'GET'],
    ['/liveness', 'GET'],
    ['/readiness', 'GET'],
    ['/admin/state', 'GET'],
    ['/admin/explain', 'POST'],
  ];
  for (const [path, method] of allowed) {
    app.all(path, (c) => {
      const res = jsonError(
        new RouterError('method_not_allowed', `${c.req.method} is not allowed on ${path}; use ${method}`),
      );
      res.headers.set('allow', method);
      return res;
    });
  }
  // Registered last, so the routes above (and their 405s) match first.
  app.post('*', async (c, next) => {
    // Paths outside /v1 are not covered by the /v1/* guard.
    if (!c.req.path.startsWith('/v1/')) return auth(c, next);
    await next();
  });
  app.post('*', (c) => forwarder.forwarded(c, c.req.path, forwardedLabel(c.req.path)));
  return app;
}

/** /admin/state's load: what the policies read per member, the pods' gauges, and the replicas heard. */
function loadState(deps: AppDeps, members: readonly string[]) {
  const l = deps.load;
  if (l === undefined) return null;
  return {
    inFlight: Object.fromEntries(members.map((k) => [k, l.view.inFlight(k)])),
    podMetrics: l.scraper?.views() ?? null,
    shared: l.share?.state() ?? null,
  };
}
