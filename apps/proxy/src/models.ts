// GET /v1/models, answered from a member (all members serve the same model) and reused briefly so a
// client polling it does not reach a pod every time.
import { RouterError } from '@pdrouter/core';
import type { ProxyConfig } from './config.ts';
import { upstreamAuth, upstreamAuthorization } from './headers.ts';
import type { Logger } from './logger.ts';
import type { PodRegistry } from './pods.ts';
import type { RouterState } from './router-state.ts';
import { readBodyText, type Upstreams } from './upstream.ts';
import { classifyUpstreamError } from './upstream-errors.ts';

/** How long one pod may take to list its models. */
export const MODELS_TIMEOUT_MS = 5000;
/** Largest model list read from a pod (a list of a few models is a few kilobytes). */
export const MAX_MODELS_RESPONSE_BYTES = 1024 * 1024;

interface ModelsDeps {
  config: ProxyConfig;
  state: RouterState;
  pods: PodRegistry;
  upstreams: Upstreams;
  logger?: Logger;
}

export class ModelsCache {
  private cached: { body: string; atMs: number; fingerprint: string } | undefined;
  private readonly deps: ModelsDeps;

  constructor(deps: ModelsDeps) {
    this.deps = deps;
  }

  async get(authorization: string | undefined): Promise<string> {
    const { config, state, pods, upstreams } = this.deps;
    const table = state.table;
    const now = Date.now();
    if (
      this.cached &&
      table &&
      this.cached.fingerprint === table.fingerprint &&
      now - this.cached.atMs < config.modelsCacheMs
    ) {
      return this.cached.body;
    }
    const candidates = table
      ? config.mode === 'pd'
        ? [...table.members.decode, ...table.members.prefill]
        : [...table.members.plain]
      : [];
    const ordered = [...candidates.filter((u) => !pods.isEjected(u)), ...candidates.filter((u) => pods.isEjected(u))];
    if (ordered.length === 0) throw new RouterError('no_members', 'no pods are available to list models');
    const headers: Record<string, string> = {};
    const upstreamAuthz = upstreamAuthorization(upstreamAuth(config), authorization);
    if (upstreamAuthz !== undefined) headers.authorization = upstreamAuthz;
    let lastError = '';
    for (const url of ordered.slice(0, 3)) {
      try {
        const res = await upstreams.request(url, {
          method: 'GET',
          path: '/v1/models',
          headers,
          signal: AbortSignal.timeout(MODELS_TIMEOUT_MS),
          headersTimeoutMs: MODELS_TIMEOUT_MS,
        });
        const body = await readBodyText(res.body, MAX_MODELS_RESPONSE_BYTES);
        if (res.statusCode !== 200) {
          lastError = `HTTP ${res.statusCode}`;
          continue;
        }
        JSON.parse(body);
        if (table) this.cached = { body, atMs: now, fingerprint: table.fingerprint };
        return body;
      } catch (err) {
        lastError = classifyUpstreamError(err).kind;
        this.deps.logger?.warn('listing models failed', { pod: url, error: (err as Error).message });
      }
    }
    // The kind of failure only: pod addresses and socket errors go to the log, not to clients.
    throw new RouterError('upstream_error', `could not list models from any pod (${lastError})`);
  }
}
