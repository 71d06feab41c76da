import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SSE_DONE } from '@pdrouter/core';
import { answerOffset, promptHashOf } from './answer.ts';
import type { FinishReason, Sequence, TokenSink } from './engine.ts';
import { badRequest, SimHttpError } from './errors.ts';
import { hashString } from './hash.ts';
import { readBody, sendError, sendJson } from './http-util.ts';
import { resolveRemoteKv } from './kv-transfer.ts';
import type { PodContext } from './pod-context.ts';
import { computeBlockHashes } from './prefix-cache.ts';
import { parseSimRequest, resolveMaxTokens, type SimRequest, type SimRoute } from './request.ts';
import { ResponsesStream, responsesBody } from './responses-api.ts';
import { OUTPUT_VOCABULARY, outputWord, outputWordJson } from './tokens.ts';
import { ChunkEncoder, chatBody, completionBody, responseId } from './wire.ts';

/** Longest X-Request-Id honoured; longer ones are replaced by a fresh uuid. */
const MAX_REQUEST_ID_LENGTH = 256;

function requestIdOf(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  const value = Array.isArray(header) ? header[0] : header;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed.length > 0 && trimmed.length <= MAX_REQUEST_ID_LENGTH) return trimmed;
  }
  return randomUUID();
}

/** Which injected error (if any) answers this request. */
function injectedError(ctx: PodContext): number | undefined {
  const f = ctx.faults();
  const total = f.errorRate429 + f.errorRate500 + f.errorRate503;
  if (total <= 0) return undefined;
  const r = ctx.random();
  if (r < f.errorRate429) return 429;
  if (r < f.errorRate429 + f.errorRate500) return 500;
  if (r < total) return 503;
  return undefined;
}

const INJECTED_MESSAGES: Readonly<Record<number, string>> = Object.freeze({
  429: 'The server is overloaded: too many requests (injected fault).',
  500: 'Internal server error (injected fault).',
  503: 'The engine is unavailable (injected fault).',
});

/** Output length: exactly the cap with ignore_eos, else a deterministic "natural" length per prompt. */
function plannedFinish(ctx: PodContext, req: SimRequest, maxTokens: number, promptHash: number) {
  let planned: { finishAt: number; finishReason: FinishReason };
  if (req.ignoreEos) planned = { finishAt: maxTokens, finishReason: 'length' };
  else {
    const g = ctx.generation;
    const span = Math.max(0, g.eosMaxTokens - g.eosMinTokens) + 1;
    const natural = Math.max(req.minTokens, g.eosMinTokens + (hashString(String(promptHash), ctx.seed) % span));
    planned =
      natural < maxTokens
        ? { finishAt: Math.max(1, natural), finishReason: 'stop' }
        : { finishAt: maxTokens, finishReason: 'length' };
  }
  return stoppedBy(req, answerOffset(promptHash), planned);
}

/**
 * vLLM checks the client's stop tokens and strings before the length cap, once min_tokens are out
 * (a request capped at one token still finishes "stop" when that token is a stop token). The
 * simulator's token id is the word's index in OUTPUT_VOCABULARY.
 */
function stoppedBy(
  req: SimRequest,
  wordOffset: number,
  planned: { finishAt: number; finishReason: FinishReason },
): { finishAt: number; finishReason: FinishReason } {
  if (req.stopTokenIds.length === 0 && req.stop.length === 0) return planned;
  for (let i = Math.max(0, req.minTokens - 1); i < planned.finishAt; i++) {
    const id = (wordOffset + i) % OUTPUT_VOCABULARY.length;
    if (req.stopTokenIds.includes(id) || req.stop.includes(OUTPUT_VOCABULARY[id] as string)) {
      return { finishAt: i + 1, finishReason: 'stop' };
    }
  }
  return planned;
}

/** Handles POST /v1/completions, /v1/chat/completions and /v1/responses on one pod. */
export async function handleInference(
  ctx: PodContext,
  route: SimRoute,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  ctx.counters.requests++;
  const arrivalMs = ctx.clock.now();
  const requestId = requestIdOf(req);
  const lifetime = ctx.lifetime();
  const idHeader = { 'x-request-id': requestId };
  let seq: Sequence | undefined;
  let closed = false;
  let droppedByFault = false;
  const timers: { cancel(): void }[] = [];
  res.on('close', () => {
    if (res.writableFinished) return;
    closed = true;
    for (const t of timers) t.cancel();
    if (seq !== undefined) ctx.engine.cancel(seq);
    if (droppedByFault) ctx.counters.dropped++;
    else if (ctx.lifetime() === lifetime) ctx.counters.cancelled++;
  });

  let simReq: SimRequest;
  let maxTokens: number;
  try {
    const raw = await readBody(req);
    if (closed) return;
    if (!ctx.isReady()) throw new SimHttpError(503, 'The server is not ready yet (starting up).');
    const injected = injectedError(ctx);
    if (injected !== undefined) {
      ctx.counters.injectedErrorsByStatus[String(injected)] =
        (ctx.counters.injectedErrorsByStatus[String(injected)] ?? 0) + 1;
      sendError(res, new SimHttpError(injected, INJECTED_MESSAGES[injected] as string), idHeader);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw badRequest(`request body is not valid JSON: ${(err as Error).message}`);
    }
    simReq = parseSimRequest(route, body);
    if (simReq.model !== undefined && simReq.model !== ctx.generation.model) {
      throw new SimHttpError(404, `The model \`${simReq.model}\` does not exist.`, 'model');
    }
    maxTokens = resolveMaxTokens(simReq, ctx.generation.maxModelLen);
  } catch (err) {
    if (closed) return;
    const e = err instanceof SimHttpError ? err : new SimHttpError(400, `could not read the request: ${String(err)}`);
    ctx.counters.rejected++;
    sendError(res, e, idHeader);
    return;
  }

  const stallMs = ctx.faults().stallBeforeHeadersMs;
  if (stallMs !== 0) {
    // Negative: hold until the client gives up (models a wedged server that accepted the connection).
    if (stallMs < 0) return;
    await new Promise<void>((resolve) => timers.push(ctx.clock.schedule(stallMs, resolve)));
    if (closed) return;
  }

  const promptHash = promptHashOf(simReq.promptWords);
  const blockHashes = computeBlockHashes(simReq.promptWords, ctx.timing.blockSize);
  const promptTokens = simReq.promptWords.length;
  const kv = simReq.kvTransferParams;
  const isPrefillLeg = kv?.do_remote_decode === true;
  let remoteKv = false;
  if (isPrefillLeg) {
    ctx.counters.prefillRequests++;
  } else if (kv?.do_remote_prefill === true || ctx.role === 'decode') {
    const outcome = await resolveRemoteKv(kv, promptHash);
    if (closed) return;
    if (outcome.ok) {
      remoteKv = true;
      ctx.counters.remotePrefillHits++;
    } else {
      ctx.counters.localPrefillFallbacks++;
      ctx.counters.fallbacksByReason[outcome.reason]++;
    }
  }

  const { finishAt, finishReason } = plannedFinish(ctx, simReq, maxTokens, promptHash);
  const id = responseId(route, requestId);
  const created = Math.floor(Date.now() / 1000);
  const wordOffset = answerOffset(promptHash);
  const text = (n: number): string => {
    let s = '';
    for (let i = 0; i < n; i++) s += outputWord(wordOffset, i);
    return s;
  };
  // vLLM counts KV pulled from a prefill pod as cached (all but the last prompt token).
  const cachedTokens = (s: Sequence): number => (remoteKv ? Math.max(0, promptTokens - 1) : s.cachedTokens);
  const detailsOn = ctx.generation.promptTokensDetails;
  let lastTokenMs = arrivalMs;
  /** TTFT for the first token, inter-token latency for the others (simulated time). */
  const observeToken = (index: number): void => {
    const now = ctx.clock.now();
    (index === 0 ? ctx.ttft : ctx.itl).observe((now - lastTokenMs) / 1000);
    lastTokenMs = now;
  };
  const finished = (reason: FinishReason): void => {
    ctx.e2e.observe((ctx.clock.now() - arrivalMs) / 1000);
    ctx.counters.completed++;
    ctx.counters.successByReason[reason] = (ctx.counters.successByReason[reason] ?? 0) + 1;
  };
  let stalled = false;
  /** Applies mid-stream faults after `n` tokens; returns false when the sequence must pause. */
  const midStreamFaults = (s: Sequence, n: number): 'go' | 'pause' | 'dropped' => {
    const f = ctx.faults();
    if (f.dropAfterTokens >= 0 && n >= f.dropAfterTokens) {
      droppedByFault = true;
      ctx.engine.cancel(s);
      // End the socket (not the response): what was written still reaches the client, then the
      // connection closes without the final chunk, like a pod that crashed mid-answer.
      if (res.socket) res.socket.end();
      else res.destroy();
      return 'dropped';
    }
    if (f.stallAfterTokens >= 0 && n === f.stallAfterTokens) {
      stalled = true;
      if (f.stallMs > 0) {
        timers.push(
          ctx.clock.schedule(f.stallMs, () => {
            stalled = false;
            ctx.engine.resume(s);
          }),
        );
      }
      return 'pause';
    }
    return 'go';
  };

  let sink: TokenSink;
  if (simReq.stream) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      ...idHeader,
    });
    const model = ctx.generation.model;
    const stream =
      route === '/v1/responses'
        ? new ResponsesStream(id, created, model, simReq, promptTokens)
        : new ChunkEncoder(route, id, created, ctx.modelJson);
    const opening = stream.opening();
    if (opening !== '') res.write(opening);
    else res.flushHeaders();
    const responses = stream instanceof ResponsesStream ? stream : undefined;
    const chunks = stream instanceof ChunkEncoder ? stream : undefined;
    sink = (s, index, finish) => {
      if (closed) return true;
      observeToken(index);
      const wordJson = outputWordJson(wordOffset, index);
      let ok: boolean;
      if (chunks !== undefined) {
        const usage = simReq.continuousUsage ? { prompt: promptTokens, completion: index + 1 } : undefined;
        ok = res.write(chunks.token(wordJson, finish, usage));
      } else {
        ok = res.write((responses as ResponsesStream).delta(wordJson));
      }
      if (finish !== null) {
        let tail: string;
        if (chunks !== undefined) {
          tail =
            (simReq.includeUsage
              ? chunks.usage(promptTokens, s.generated, detailsOn ? cachedTokens(s) : undefined)
              : '') + SSE_DONE;
        } else {
          tail = (responses as ResponsesStream).closing(text(s.generated), finish, s.generated, cachedTokens(s));
        }
        res.end(tail);
        finished(finish);
        return true;
      }
      const verdict = midStreamFaults(s, index + 1);
      if (verdict === 'dropped') return true;
      if (verdict === 'pause') return false;
      if (!ok) {
        ctx.counters.backpressurePauses++;
        res.once('drain', () => {
          if (!stalled) ctx.engine.resume(s);
        });
        return false;
      }
      return true;
    };
  } else {
    sink = (s, index, finish) => {
      if (closed) return true;
      observeToken(index);
      if (finish !== null) {
        let kvTransferParams: Record<string, unknown> | null = null;
        // NixlConnector hands out KV only for a request capped by max_tokens (the P/D prefill leg).
        if (isPrefillLeg && finish === 'length') kvTransferParams = publishKv(ctx, id, route, promptTokens, promptHash);
        const parts = {
          id,
          created,
          model: ctx.generation.model,
          text: text(s.generated),
          finishReason: finish,
          promptTokens,
          completionTokens: s.generated,
          cachedTokens: cachedTokens(s),
          promptTokensDetails: detailsOn,
          kvTransferParams,
        };
        const body =
          route === '/v1/completions'
            ? completionBody(parts)
            : route === '/v1/chat/completions'
              ? chatBody(parts)
              : responsesBody(parts, simReq);
        sendJson(res, 200, body, idHeader);
        finished(finish);
        return true;
      }
      const verdict = midStreamFaults(s, index + 1);
      return verdict !== 'pause';
    };
  }
  seq = ctx.engine.submit({ id, arrivalMs, promptTokens, blockHashes, finishAt, finishReason, remoteKv }, sink);
}

/** Keeps the prefill's KV blocks for the decode pod and returns the kv_transfer_params vLLM answers with. */
function publishKv(ctx: PodContext, id: string, route: SimRoute, promptTokens: number, promptHash: number) {
  // vLLM's engine-side id of a completion is "<id>-<prompt index>"; the decode pod asks for that id.
  const remoteRequestId = route === '/v1/completions' ? `${id}-0` : id;
  const blockIds = ctx.allocateBlockIds(Math.ceil(promptTokens / ctx.timing.blockSize));
  const engineId = ctx.engineId();
  ctx.kvStore.put(
    {
      remoteRequestId,
      engineId,
      blockIds,
      promptTokens,
      promptHash,
      expiresAt: ctx.clock.now() + ctx.timing.kvTtlMs,
    },
    ctx.clock.now(),
  );
  ctx.engine.holdBlocks(blockIds.length);
  return {
    do_remote_prefill: true,
    do_remote_decode: false,
    remote_block_ids: blockIds,
    remote_engine_id: engineId,
    remote_request_id: remoteRequestId,
    remote_host: ctx.advertisedHost(),
    remote_port: ctx.port(),
    tp_size: 1,
  };
}
