import {
  buildDecodeBody,
  buildPrefillBody,
  ConsistentHashRing,
  extractHashKey,
  extractKvTransferParams,
  fbiHash,
  type PdRoute,
  type U64,
  type VllmRouterKind,
} from '@pdrouter/core';
import type { Pool } from 'undici';
import type { LoadgenConfig } from './config.ts';
import { basePathOf, fetchFirstModel, newPool, requestHeaders, sampleBody, streamLeg, type Target } from './targets.ts';

/** The ring hash of a request's key, taken as the proxy takes it (--oracle-hash-key-mode; plain or P/D router keys). */
function requestHash(
  config: LoadgenConfig,
  router: VllmRouterKind,
  headers: Record<string, string>,
  body: Record<string, unknown>,
): U64 {
  return fbiHash(extractHashKey((name) => headers[name], body, { mode: config.oracleHashKeyMode, router }));
}

/**
 * The plain-mode oracle: the load generator picks the owner of the request's hash key on a ring of the worker URLs
 * (as the proxy's plain mode does) and streams straight from it. The "direct" baseline over several pods.
 */
export function oraclePlainTarget(config: LoadgenConfig): Target {
  const ring = new ConsistentHashRing(config.workerUrls);
  const pools = new Map(ring.members.map((url) => [url, newPool(url, undefined)] as const));
  return {
    description: `oracle-plain over ${ring.members.length} pods`,
    firstModel: () => fetchFirstModel(pools.get(ring.members[0] as string) as Pool, ''),
    send(sample, model, out, startMs) {
      const body = sampleBody(config, model, sample);
      const headers = requestHeaders(config, sample.requestId);
      const url = ring.ownerOfHash(requestHash(config, 'regular', headers, body)) as string;
      return streamLeg(config, pools.get(url) as Pool, basePathOf(url) + config.endpoint, headers, body, out, startMs);
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.close()));
    },
  };
}

/** How much of a failed prefill answer is kept in the result. */
const ERROR_BODY_MAX_CHARS = 500;

/**
 * The oracle: a zero-cost P/D router inside the load generator. Per request it hashes the key the proxy would use
 * (vllm-router key rules: here the x-request-id header), picks the prefill and decode owners on rings built from the
 * same URLs with the same vnodes, runs the prefill leg (JSON, max_tokens 1, do_remote_decode) and streams the
 * decode leg with the prefill's kv_transfer_params. TTFT counts from the start of the prefill leg, as a client of a
 * router sees it. Whatever the proxy adds on top of this is its overhead.
 */
export function oraclePdTarget(config: LoadgenConfig): Target {
  const prefillRing = new ConsistentHashRing(config.prefillUrls);
  const decodeRing = new ConsistentHashRing(config.decodeUrls);
  const pools = new Map<string, Pool>();
  const poolFor = (url: string): Pool => {
    let pool = pools.get(url);
    if (pool === undefined) {
      pool = newPool(url, undefined);
      pools.set(url, pool);
    }
    return pool;
  };
  for (const url of [...prefillRing.members, ...decodeRing.members]) poolFor(url);
  const route = config.endpoint.endsWith('chat/completions') ? '/v1/chat/completions' : '/v1/completions';
  const legPath = (url: string): string => basePathOf(url) + route;

  return {
    description: `oracle-pd over ${prefillRing.members.length} prefill + ${decodeRing.members.length} decode pods`,
    firstModel: () => fetchFirstModel(poolFor(decodeRing.members[0] as string), ''),
    async send(sample, model, out, startMs) {
      const body = sampleBody(config, model, sample);
      const headers = requestHeaders(config, sample.requestId);
      const hash = requestHash(config, 'pd', headers, body);
      const prefillUrl = prefillRing.ownerOfHash(hash) as string;
      const decodeUrl = decodeRing.ownerOfHash(hash) as string;
      let kv: Record<string, unknown> | undefined;
      try {
        const res = await poolFor(prefillUrl).request({
          path: legPath(prefillUrl),
          method: 'POST',
          headers,
          body: JSON.stringify(buildPrefillBody(route as PdRoute, body)),
          headersTimeout: config.idleTimeoutSec * 1000,
          bodyTimeout: config.idleTimeoutSec * 1000,
        });
        const text = await res.body.text();
        if (res.statusCode !== 200) {
          out.error = `prefill ${prefillUrl} HTTP ${res.statusCode}: ${text.slice(0, ERROR_BODY_MAX_CHARS)}`;
          return;
        }
        kv = extractKvTransferParams(JSON.parse(text));
      } catch (err) {
        out.error = `prefill ${prefillUrl}: ${err instanceof Error ? err.message : String(err)}`;
        return;
      }
      if (kv === undefined) {
        out.error = `prefill ${prefillUrl} answered without kv_transfer_params`;
        return;
      }
      const decodeBody = buildDecodeBody(route as PdRoute, body, kv);
      await streamLeg(config, poolFor(decodeUrl), legPath(decodeUrl), headers, decodeBody, out, startMs);
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.close()));
    },
  };
}
