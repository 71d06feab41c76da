import { fetchRemoteKv } from './kv-client.ts';
import type { FallbackReason } from './pod-context.ts';

export type KvResolution = { ok: true } | { ok: false; reason: FallbackReason };

function portOf(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
}

/**
 * Decode side of the P/D protocol: validates the request's kv_transfer_params, pulls the blocks from
 * the prefill pod they name, and checks they belong to that engine and to this very prompt. Any
 * failure means a local prefill (the caller counts it by reason). Never throws.
 */
export async function resolveRemoteKv(
  params: Readonly<Record<string, unknown>> | undefined,
  promptHash: number,
): Promise<KvResolution> {
  if (params === undefined || params.do_remote_prefill !== true) return { ok: false, reason: 'missing' };
  const engineId = params.remote_engine_id;
  const host = params.remote_host;
  const port = portOf(params.remote_port);
  const remoteRequestId = params.remote_request_id;
  if (typeof engineId !== 'string' || typeof host !== 'string' || host === '' || port === undefined) {
    return { ok: false, reason: 'missing' };
  }
  if (typeof remoteRequestId !== 'string' || remoteRequestId === '') return { ok: false, reason: 'missing' };
  const result = await fetchRemoteKv(host, port, remoteRequestId, engineId);
  if (!result.ok) return result;
  if (result.kv.engineId !== engineId) return { ok: false, reason: 'wrong_engine' };
  if (result.kv.promptHash !== promptHash) return { ok: false, reason: 'prompt_mismatch' };
  return { ok: true };
}
