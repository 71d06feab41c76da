import { type SseEvent, SseParser } from '@pdrouter/core';
import type { Dispatcher } from 'undici';
import type { Backend } from './config.ts';
import type { ChatMessage } from './dataset.ts';
import type { RequestOutput } from './metrics.ts';

/** How much of an error body is kept in the result. */
const ERROR_BODY_MAX_CHARS = 500;

export interface StreamRequest {
  readonly dispatcher: Dispatcher;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly backend: Backend;
  /** Measurement origin (performance.now() ms); TTFT and latency are counted from here. */
  readonly startMs: number;
  /** A stalled server fails the request after this long without a byte, instead of hanging the run. */
  readonly idleTimeoutMs: number;
}

/**
 * Sends one streaming request and fills `out` as vLLM's request functions do: TTFT at the first event with a
 * non-empty `choices`, one ITL per later such event, latency at the last of them, output tokens from the usage
 * event. One timestamp per network read: events that arrive together are one delivery to the client.
 */
export async function streamCompletion(req: StreamRequest, out: RequestOutput): Promise<void> {
  const chat = req.backend === 'openai-chat';
  let firstSeen = false;
  let lastMs = req.startMs;
  let text = '';
  try {
    const parser = new SseParser();
    const onEvents = (events: SseEvent[], nowMs: number): void => {
      for (const { data } of events) {
        if (data === '[DONE]') continue;
        const event = JSON.parse(data) as {
          choices?: { text?: string; delta?: { content?: string | null } }[];
          usage?: { completion_tokens?: number; prompt_tokens?: number } | null;
        };
        const choice = event.choices?.[0];
        if (choice !== undefined) {
          if (!firstSeen) {
            firstSeen = true;
            out.ttft = (nowMs - req.startMs) / 1000;
          } else {
            out.itl.push((nowMs - lastMs) / 1000);
          }
          lastMs = nowMs;
          const piece = chat ? choice.delta?.content : choice.text;
          if (piece) text += piece;
        } else if (event.usage) {
          out.outputTokens = event.usage.completion_tokens ?? 0;
          if (typeof event.usage.prompt_tokens === 'number') out.promptLen = event.usage.prompt_tokens;
        }
      }
    };
    // dispatch() with a handler: body chunks reach the SSE parser straight from the HTTP parser, without a
    // Readable stream per response (the cheapest way to consume a stream in undici).
    const status = await new Promise<number>((resolve, reject) => {
      let statusCode = 0;
      let errorBody = '';
      req.dispatcher.dispatch(
        {
          path: req.path,
          method: 'POST',
          headers: req.headers,
          body: req.body,
          headersTimeout: req.idleTimeoutMs,
          bodyTimeout: req.idleTimeoutMs,
        },
        {
          onRequestStart() {},
          onResponseStart(_controller, code) {
            statusCode = code;
          },
          onResponseData(controller, chunk) {
            if (statusCode !== 200) {
              if (errorBody.length < ERROR_BODY_MAX_CHARS) errorBody += chunk.toString('utf8');
              return;
            }
            try {
              onEvents(parser.push(chunk), performance.now());
            } catch (err) {
              controller.abort(err as Error);
            }
          },
          onResponseEnd() {
            if (statusCode !== 200) {
              out.error = `HTTP ${statusCode}: ${errorBody.slice(0, ERROR_BODY_MAX_CHARS)}`;
              resolve(statusCode);
              return;
            }
            try {
              onEvents(parser.end(), performance.now());
              resolve(statusCode);
            } catch (err) {
              reject(err);
            }
          },
          onResponseError(_controller, err) {
            reject(err);
          },
        },
      );
    });
    if (status !== 200) return;
    if (firstSeen) out.success = true;
    else out.error = 'Never received a valid chunk to calculate TTFT. This response will be marked as failed!';
  } catch (err) {
    out.success = false;
    out.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } finally {
    out.generatedText = text;
    out.latency = (lastMs - req.startMs) / 1000;
  }
}

/** The request body `vllm bench serve` sends for one prompt. */
export function buildRequestBody(
  backend: Backend,
  model: string,
  prompt: string,
  outputLen: number,
  ignoreEos: boolean,
  extraBody: Readonly<Record<string, unknown>>,
  chatMessages?: readonly ChatMessage[],
): Record<string, unknown> {
  const common = { stream: true, stream_options: { include_usage: true } };
  const body: Record<string, unknown> =
    backend === 'openai'
      ? { model, prompt, repetition_penalty: 1.0, max_tokens: outputLen, logprobs: null, ...common }
      : {
          model,
          messages: chatMessages ?? [{ role: 'user', content: [{ type: 'text', text: prompt }] }],
          max_completion_tokens: outputLen,
          ...common,
        };
  if (ignoreEos) body.ignore_eos = true;
  return Object.assign(body, extraBody);
}
