import http from 'node:http';

/**
 * The decode pod's side channel: pulls KV blocks from the prefill pod named in kv_transfer_params with
 * a real HTTP call (GET /sim/kv/{remote_request_id} on remote_host:remote_port).
 */

/** Deadline of one KV pull; past it the decode pod prefills locally. */
export const KV_FETCH_TIMEOUT_MS = 5_000;

export interface RemoteKv {
  readonly engineId: string;
  readonly blockIds: readonly number[];
  readonly promptTokens: number;
  readonly promptHash: number;
}

export type KvFetchResult =
  | { ok: true; kv: RemoteKv }
  | { ok: false; reason: 'missing' | 'expired' | 'wrong_engine' | 'unreachable' | 'bad_response' };

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/**
 * Pulls the KV of `remoteRequestId` from host:port, for the engine the decode pod expects (the prefill
 * pod refuses with 409 when it is another engine, e.g. it restarted). Never throws.
 */
export function fetchRemoteKv(
  host: string,
  port: number,
  remoteRequestId: string,
  engineId: string,
): Promise<KvFetchResult> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: KvFetchResult): void => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const req = http.get(
      {
        host,
        port,
        path: `/sim/kv/${encodeURIComponent(remoteRequestId)}?engine_id=${encodeURIComponent(engineId)}`,
        agent,
        timeout: KV_FETCH_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', () => finish({ ok: false, reason: 'unreachable' }));
        res.on('end', () => {
          if (res.statusCode === 404) return finish({ ok: false, reason: 'missing' });
          if (res.statusCode === 410) return finish({ ok: false, reason: 'expired' });
          if (res.statusCode === 409) return finish({ ok: false, reason: 'wrong_engine' });
          if (res.statusCode !== 200) return finish({ ok: false, reason: 'bad_response' });
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            if (
              typeof body.engine_id !== 'string' ||
              !Array.isArray(body.block_ids) ||
              typeof body.prompt_tokens !== 'number' ||
              typeof body.prompt_hash !== 'number'
            ) {
              return finish({ ok: false, reason: 'bad_response' });
            }
            finish({
              ok: true,
              kv: {
                engineId: body.engine_id,
                blockIds: body.block_ids as number[],
                promptTokens: body.prompt_tokens,
                promptHash: body.prompt_hash,
              },
            });
          } catch {
            finish({ ok: false, reason: 'bad_response' });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('kv fetch timed out')));
    req.on('error', () => finish({ ok: false, reason: 'unreachable' }));
  });
}
