import { Pool } from 'undici';
import type { LoadgenConfig } from './config.ts';
import type { SampleRequest } from './dataset.ts';
import type { RequestOutput } from './metrics.ts';
import { buildRequestBody, streamCompletion } from './request-func.ts';

/** Where requests go: straight to one server (a router or a pod), or through the oracle's own two P/D legs. */
export interface Target {
  readonly description: string;
  /** The model the server lists first (used when --model is not given). */
  firstModel(): Promise<string>;
  /** Sends one request; `startMs` is the send time that TTFT and latency count from. */
  send(sample: SampleRequest, model: string, out: RequestOutput, startMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Connection pool per origin: one connection per in-flight request, kept alive between requests. */
export function newPool(origin: string, connections: number | undefined): Pool {
  return new Pool(origin, { connections: connections ?? null, keepAliveTimeout: 60_000, pipelining: 1 });
}

export function requestHeaders(config: LoadgenConfig, requestId: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...config.headers };
  const key = process.env.OPENAI_API_KEY;
  if (key) headers.authorization = `Bearer ${key}`;
  headers['x-request-id'] = requestId;
  return headers;
}

export async function fetchFirstModel(pool: Pool, basePath: string): Promise<string> {
  const res = await pool.request({
    path: `${basePath}/v1/models`,
    method: 'GET',
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET /v1/models answered ${res.statusCode}: ${text.slice(0, 200)}`);
  const id = (JSON.parse(text) as { data?: { id?: string }[] }).data?.[0]?.id;
  if (typeof id !== 'string') throw new Error('GET /v1/models listed no model');
  return id;
}

/** The body of one sample's request, shaped by the backend, --ignore-eos and --extra-body settings. */
export function sampleBody(config: LoadgenConfig, model: string, sample: SampleRequest): Record<string, unknown> {
  return buildRequestBody(
    config.backend,
    model,
    sample.prompt,
    sample.expectedOutputLen,
    config.ignoreEos,
    config.extraBody,
    sample.chatMessages,
  );
}

/** The path prefix of a server URL, without a trailing slash ('' for a bare origin). */
export function basePathOf(url: string): string {
  return new URL(url).pathname.replace(/\/+$/, '');
}

/** Streams one leg to `path` on `dispatcher`, with the run's backend and idle timeout; the result lands in `out`. */
export function streamLeg(
  config: LoadgenConfig,
  dispatcher: Pool,
  path: string,
  headers: Record<string, string>,
  body: Record<string, unknown>,
  out: RequestOutput,
  startMs: number,
): Promise<void> {
  return streamCompletion(
    {
      dispatcher,
      path,
      headers,
      body: JSON.stringify(body),
      backend: config.backend,
      startMs,
      idleTimeoutMs: config.idleTimeoutSec * 1000,
    },
    out,
  );
}

export function directTarget(config: LoadgenConfig): Target {
  const url = new URL(config.baseUrl);
  const basePath = basePathOf(config.baseUrl);
  const pool = newPool(url.origin, config.maxConcurrency);
  const path = basePath + config.endpoint;
  return {
    description: `${config.baseUrl}${config.endpoint}`,
    firstModel: () => fetchFirstModel(pool, basePath),
    send(sample, model, out, startMs) {
      const body = sampleBody(config, model, sample);
      return streamLeg(config, pool, path, requestHeaders(config, sample.requestId), body, out, startMs);
    },
    close: () => pool.close(),
  };
}

/** A round-robin client in front of router replicas: request i goes to replica i mod n (a session's turns alternate). */
export function roundRobinTarget(config: LoadgenConfig): Target {
  const targets = config.roundRobinUrls.map((baseUrl) => directTarget({ ...config, baseUrl }));
  const first = targets[0];
  if (first === undefined) throw new Error('roundRobinTarget needs at least one --round-robin-url');
  let next = 0;
  return {
    description: `round robin over ${targets.map((t) => t.description).join(', ')}`,
    firstModel: () => first.firstModel(),
    send(sample, model, out, startMs) {
      const target = targets[next++ % targets.length] as Target;
      return target.send(sample, model, out, startMs);
    },
    close: async () => {
      await Promise.all(targets.map((t) => t.close()));
    },
  };
}
