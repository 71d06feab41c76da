// The vLLM P/D protocol with NixlConnector, as vLLM's own disaggregated proxies and llm-d speak it
// (docs/design.md §2): the prefill leg computes the KV cache and returns where to fetch it; the
// decode leg is the client's request plus those kv_transfer_params.

export type PdRoute = '/v1/completions' | '/v1/chat/completions' | '/v1/responses';
export const PD_ROUTES: readonly PdRoute[] = Object.freeze([
  '/v1/completions',
  '/v1/chat/completions',
  '/v1/responses',
]);

/** The kv_transfer_params of every prefill request: "compute, then hold the blocks for a remote decode". */
export const PREFILL_KV_TRANSFER_PARAMS: Readonly<Record<string, unknown>> = Object.freeze({
  do_remote_decode: true,
  do_remote_prefill: false,
  remote_engine_id: null,
  remote_block_ids: null,
  remote_host: null,
  remote_port: null,
});

export function isPdRoute(path: string): path is PdRoute {
  return (PD_ROUTES as readonly string[]).includes(path);
}

/**
 * The prefill leg's body: the client's body with stream false, stream_options removed, one output
 * token (max_tokens: 1, plus max_completion_tokens: 1 when the client sent it; max_output_tokens: 1
 * for /v1/responses), min_tokens/min_completion_tokens removed (they would contradict the single
 * token), and PREFILL_KV_TRANSFER_PARAMS. The input object is never modified.
 */
export function buildPrefillBody(route: PdRoute, body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  out.stream = false;
  delete out.stream_options;
  delete out.min_tokens;
  delete out.min_completion_tokens;
  if (route === '/v1/responses') {
    out.max_output_tokens = 1;
  } else {
    out.max_tokens = 1;
    if ('max_completion_tokens' in body) out.max_completion_tokens = 1;
  }
  out.kv_transfer_params = { ...PREFILL_KV_TRANSFER_PARAMS };
  return out;
}

/**
 * The decode leg's body: the client's body unchanged except kv_transfer_params, which is the prefill
 * response's object as it came. The input object is never modified.
 */
export function buildDecodeBody(
  _route: PdRoute,
  body: Record<string, unknown>,
  kvTransferParams: Record<string, unknown>,
): Record<string, unknown> {
  return { ...body, kv_transfer_params: kvTransferParams };
}

/**
 * The top-level kv_transfer_params object of a prefill response, or undefined when the response
 * has none (an error body, a backend without a KV connector): decode must then not run as if the
 * prefill had happened.
 */
export function extractKvTransferParams(prefillResponse: unknown): Record<string, unknown> | undefined {
  if (typeof prefillResponse !== 'object' || prefillResponse === null || Array.isArray(prefillResponse)) {
    return undefined;
  }
  const params = (prefillResponse as Record<string, unknown>).kv_transfer_params;
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return undefined;
  return params as Record<string, unknown>;
}

/** One id for both legs of a request, sent as X-Request-Id. */
export function newRequestId(): string {
  return globalThis.crypto.randomUUID();
}
