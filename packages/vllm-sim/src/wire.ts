import type { FinishReason } from './engine.ts';
import type { SimRoute } from './request.ts';

/**
 * vLLM's response shapes, field by field (vllm/entrypoints/openai: CompletionResponse,
 * CompletionStreamResponse, ChatCompletionResponse, ChatCompletionStreamResponse, UsageInfo).
 * Stream chunks are spliced from per-request templates: only the token text (pre-encoded JSON) varies.
 */

export interface UsageInfo {
  prompt_tokens: number;
  total_tokens: number;
  completion_tokens: number;
  prompt_tokens_details: { cached_tokens: number } | null;
}

/** vLLM's UsageInfo; prompt_tokens_details only with --enable-prompt-tokens-details (cachedTokens set). */
export function usageInfo(promptTokens: number, completionTokens: number, cachedTokens?: number): UsageInfo {
  return {
    prompt_tokens: promptTokens,
    total_tokens: promptTokens + completionTokens,
    completion_tokens: completionTokens,
    prompt_tokens_details: cachedTokens === undefined ? null : { cached_tokens: cachedTokens },
  };
}

/** The id prefix vLLM uses for each route: cmpl-<request id>, chatcmpl-<request id>, resp_<request id>. */
export function responseId(route: SimRoute, requestId: string): string {
  if (route === '/v1/completions') return `cmpl-${requestId}`;
  if (route === '/v1/chat/completions') return `chatcmpl-${requestId}`;
  return `resp_${requestId}`;
}

/**
 * What follows the token text in a chunk, by finish state. Completion choices carry every field vLLM
 * sets explicitly (serialized with exclude_unset); a chat chunk sets stop_reason only when finishing.
 */
const COMPLETION_TAILS = Object.freeze({
  running: ',"logprobs":null,"finish_reason":null,"stop_reason":null,"prompt_token_ids":null,"token_ids":null}]',
  stop: ',"logprobs":null,"finish_reason":"stop","stop_reason":null,"prompt_token_ids":null,"token_ids":null}]',
  length: ',"logprobs":null,"finish_reason":"length","stop_reason":null,"prompt_token_ids":null,"token_ids":null}]',
});
const CHAT_TAILS = Object.freeze({
  running: '},"logprobs":null,"finish_reason":null}]',
  stop: '},"logprobs":null,"finish_reason":"stop","stop_reason":null}]',
  length: '},"logprobs":null,"finish_reason":"length","stop_reason":null}]',
});

/** Per-request SSE chunk builder for /v1/completions and /v1/chat/completions. */
export class ChunkEncoder {
  private readonly head: string;
  private readonly chat: boolean;
  private readonly prefix: string;

  constructor(route: '/v1/completions' | '/v1/chat/completions', id: string, created: number, modelJson: string) {
    this.chat = route === '/v1/chat/completions';
    const object = this.chat ? 'chat.completion.chunk' : 'text_completion';
    this.prefix = `data: {"id":${JSON.stringify(id)},"object":"${object}","created":${created},"model":${modelJson},"choices":[`;
    this.head = this.chat ? `${this.prefix}{"index":0,"delta":{"content":` : `${this.prefix}{"index":0,"text":`;
  }

  /** The chat stream's opening chunk (delta.role "assistant", empty content); '' for completions. */
  opening(): string {
    if (!this.chat) return '';
    return `${this.prefix}{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n`;
  }

  /** One token's chunk; `usage` set only with stream_options.continuous_usage_stats. */
  token(wordJson: string, finish: FinishReason | null, usage?: { prompt: number; completion: number }): string {
    const tails = this.chat ? CHAT_TAILS : COMPLETION_TAILS;
    const finishPart = finish === null ? tails.running : finish === 'stop' ? tails.stop : tails.length;
    const usagePart =
      usage === undefined
        ? ''
        : `,"usage":{"prompt_tokens":${usage.prompt},"completion_tokens":${usage.completion},"total_tokens":${usage.prompt + usage.completion}}`;
    return `${this.head}${wordJson}${finishPart}${usagePart}}\n\n`;
  }

  /** The final usage chunk (stream_options.include_usage): empty choices, vLLM drops null fields here. */
  usage(promptTokens: number, completionTokens: number, cachedTokens?: number): string {
    const details = cachedTokens === undefined ? '' : `,"prompt_tokens_details":{"cached_tokens":${cachedTokens}}`;
    return `${this.prefix}],"usage":{"prompt_tokens":${promptTokens},"total_tokens":${promptTokens + completionTokens},"completion_tokens":${completionTokens}${details}}}\n\n`;
  }
}

export interface BodyParts {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly text: string;
  readonly finishReason: FinishReason;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Prompt tokens not computed (prefix cache or a KV transfer). */
  readonly cachedTokens: number;
  /** Report cachedTokens in usage.prompt_tokens_details (vLLM --enable-prompt-tokens-details). */
  readonly promptTokensDetails: boolean;
  readonly kvTransferParams: Record<string, unknown> | null;
}

export function completionBody(p: BodyParts): Record<string, unknown> {
  return {
    id: p.id,
    object: 'text_completion',
    created: p.created,
    model: p.model,
    choices: [
      {
        index: 0,
        text: p.text,
        logprobs: null,
        finish_reason: p.finishReason,
        stop_reason: null,
        token_ids: null,
        prompt_logprobs: null,
        prompt_token_ids: null,
      },
    ],
    service_tier: null,
    system_fingerprint: null,
    usage: usageInfo(p.promptTokens, p.completionTokens, p.promptTokensDetails ? p.cachedTokens : undefined),
    kv_transfer_params: p.kvTransferParams,
  };
}

export function chatBody(p: BodyParts): Record<string, unknown> {
  return {
    id: p.id,
    object: 'chat.completion',
    created: p.created,
    model: p.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: p.text,
          refusal: null,
          annotations: null,
          audio: null,
          function_call: null,
          // vLLM drops an empty tool_calls list from the message.
          reasoning: null,
        },
        logprobs: null,
        finish_reason: p.finishReason,
        stop_reason: null,
        token_ids: null,
      },
    ],
    service_tier: null,
    system_fingerprint: null,
    usage: usageInfo(p.promptTokens, p.completionTokens, p.promptTokensDetails ? p.cachedTokens : undefined),
    prompt_logprobs: null,
    prompt_token_ids: null,
    kv_transfer_params: p.kvTransferParams,
  };
}

/** `GET /v1/models` body (vLLM ModelList / ModelCard). */
export function modelsBody(model: string, maxModelLen: number, created: number): Record<string, unknown> {
  return {
    object: 'list',
    data: [
      {
        id: model,
        object: 'model',
        created,
        owned_by: 'vllm',
        root: model,
        parent: null,
        max_model_len: maxModelLen,
        permission: [
          {
            id: `modelperm-${model.replace(/[^A-Za-z0-9]/g, '').slice(0, 24)}`,
            object: 'model_permission',
            created,
            allow_create_engine: false,
            allow_sampling: true,
            allow_logprobs: true,
            allow_search_indices: false,
            allow_view: true,
            allow_fine_tuning: false,
            organization: '*',
            group: null,
            is_blocking: false,
          },
        ],
      },
    ],
  };
}
