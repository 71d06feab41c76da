// Replica agreement: the same request (same body, same x-request-id) sent to each proxy replica in turn, and
// the pods each one chose read from its access log (`--log-level debug` logs one `request` line per request
// with the prefill and decode pod). Sent one replica after the other, so neither sees the other's copy in
// flight; each replica's prefix index has learnt only from the traffic it served during the run.

import { waitUntil } from '@pdrouter/testkit';
import { DEFAULT_GENERATION } from '@pdrouter/vllm-sim';
import { request } from 'undici';
import type { RebuiltRequest } from './workloads.ts';

/** Deadline of one probe request and of its access-log line. */
const PROBE_TIMEOUT_MS = 30_000;
/** Probes in flight at once (each one's replicas still go one after the other). */
const PROBE_CONCURRENCY = 8;

export interface Probe {
  readonly id: string;
  readonly path: '/v1/chat/completions' | '/v1/completions';
  readonly body: Record<string, unknown>;
}

/** `count` replays spread evenly over the workload's requests, each asking for one token. */
export function agreementProbes(requests: readonly RebuiltRequest[], count: number, tag: string): Probe[] {
  const n = Math.min(count, requests.length);
  const probes: Probe[] = [];
  for (let i = 0; i < n; i++) {
    const r = requests[Math.floor((i * requests.length) / n)] as RebuiltRequest;
    const model = DEFAULT_GENERATION.model;
    probes.push(
      r.messages === undefined
        ? {
            id: `${tag}-${i}`,
            path: '/v1/completions',
            body: { model, prompt: r.prompt, max_tokens: 1, ignore_eos: true },
          }
        : {
            id: `${tag}-${i}`,
            path: '/v1/chat/completions',
            body: { model, messages: r.messages, max_completion_tokens: 1, ignore_eos: true },
          },
    );
  }
  return probes;
}

export interface ChosenPods {
  readonly prefill: string | undefined;
  readonly decode: string | undefined;
}

/**
 * The pods of the client's `requestId` in a proxy's access log (undefined until its `request` line is there).
 * The log names the legs' id: the client's id, a dash and a fresh suffix.
 */
export function chosenPods(lines: readonly string[], requestId: string): ChosenPods | undefined {
  const needle = `"requestId":${JSON.stringify(`${requestId}-`).slice(0, -1)}`;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] as string;
    if (!line.includes(needle) || !line.includes('"msg":"request"')) continue;
    const parsed = JSON.parse(line) as { prefill?: unknown; decode?: unknown };
    return {
      prefill: typeof parsed.prefill === 'string' ? parsed.prefill : undefined,
      decode: typeof parsed.decode === 'string' ? parsed.decode : undefined,
    };
  }
  return undefined;
}

export interface ReplicaView {
  readonly url: string;
  /** The replica's stdout lines so far (its access log among them). */
  lines(): readonly string[];
}

export interface Agreement {
  readonly probes: number;
  /** Probes every replica answered 200 and logged. */
  readonly compared: number;
  readonly same_prefill: number;
  readonly same_decode: number;
  readonly same_both: number;
  /** same_both / compared. */
  readonly rate: number;
  readonly failed: number;
}

async function sendOne(url: string, probe: Probe): Promise<number> {
  const res = await request(`${url}${probe.path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': probe.id },
    body: JSON.stringify(probe.body),
    headersTimeout: PROBE_TIMEOUT_MS,
    bodyTimeout: PROBE_TIMEOUT_MS,
  });
  await res.body.text();
  return res.statusCode;
}

export async function measureAgreement(replicas: readonly ReplicaView[], probes: readonly Probe[]): Promise<Agreement> {
  let compared = 0;
  let samePrefill = 0;
  let sameDecode = 0;
  let sameBoth = 0;
  let failed = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const probe = probes[next++];
      if (probe === undefined) return;
      const chosen: ChosenPods[] = [];
      for (const replica of replicas) {
        const status = await sendOne(replica.url, probe).catch(() => 0);
        if (status !== 200) break;
        const pods = await waitUntil(() => chosenPods(replica.lines(), probe.id), {
          timeoutMs: PROBE_TIMEOUT_MS,
          intervalMs: 10,
          description: `access log line of ${probe.id}`,
        });
        chosen.push(pods);
      }
      if (chosen.length !== replicas.length) {
        failed++;
        continue;
      }
      compared++;
      const first = chosen[0] as ChosenPods;
      const p = chosen.every((c) => c.prefill === first.prefill);
      const d = chosen.every((c) => c.decode === first.decode);
      if (p) samePrefill++;
      if (d) sameDecode++;
      if (p && d) sameBoth++;
    }
  };
  await Promise.all(Array.from({ length: PROBE_CONCURRENCY }, worker));
  return {
    probes: probes.length,
    compared,
    same_prefill: samePrefill,
    same_decode: sameDecode,
    same_both: sameBoth,
    rate: compared > 0 ? sameBoth / compared : 0,
    failed,
  };
}
