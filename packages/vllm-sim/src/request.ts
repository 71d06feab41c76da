import { badRequest, SimHttpError } from './errors.ts';
import { tokenize } from './tokens.ts';

export type SimRoute = '/v1/completions' | '/v1/chat/completions' | '/v1/responses';

/** A validated inference request, reduced to what the simulator acts on. */
export interface SimRequest {
  readonly route: SimRoute;
  /** The `model` field, if given. */
  readonly model: string | undefined;
  /** Prompt tokens (words; token-id prompts become their decimal ids). */
  readonly promptWords: readonly string[];
  /** Requested output cap (max_tokens / max_completion_tokens / max_output_tokens), if given. */
  readonly maxTokens: number | undefined;
  readonly minTokens: number;
  readonly ignoreEos: boolean;
  /** stop_token_ids: an output token whose vocabulary index is listed ends the request ("stop"). */
  readonly stopTokenIds: readonly number[];
  /** stop strings: an output word equal to one ends the request ("stop"). */
  readonly stop: readonly string[];
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly continuousUsage: boolean;
  /** The request's kv_transfer_params object, if any. */
  readonly kvTransferParams: Readonly<Record<string, unknown>> | undefined;
  /** Echoed in /v1/responses bodies. */
  readonly temperature: number | null;
  readonly topP: number | null;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalInt(body: Record<string, unknown>, key: string, min: number): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw badRequest(`'${key}' must be an integer`, key);
  if (v < min) throw badRequest(`'${key}' must be at least ${min}, got ${v}`, key);
  return v;
}

function intList(body: Record<string, unknown>, key: string): number[] {
  const v = body[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) {
    throw badRequest(`'${key}' must be a list of token ids`, key);
  }
  return v as number[];
}

function stopList(body: Record<string, unknown>): string[] {
  const v = body.stop;
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw badRequest("'stop' must be a string or a list of strings", 'stop');
  }
  return v as string[];
}

function optionalBool(body: Record<string, unknown>, key: string): boolean {
  const v = body[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw badRequest(`'${key}' must be a boolean`, key);
  return v;
}

function optionalNumber(body: Record<string, unknown>, key: string): number | null {
  const v = body[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(`'${key}' must be a number`, key);
  return v;
}

/** Text of a chat/responses content value: a string or a list of parts with `text`. */
function contentText(content: unknown, param: string): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    const texts: string[] = [];
    for (const part of content) {
      if (typeof part === 'string') texts.push(part);
      else if (isRecord(part) && typeof part.text === 'string') texts.push(part.text);
      else if (!isRecord(part)) throw badRequest(`'${param}' parts must be objects`, param);
    }
    return texts.join(' ');
  }
  throw badRequest(`'${param}' must be a string or a list of content parts`, param);
}

function completionPrompt(body: Record<string, unknown>): string[] {
  let prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0]))) {
    prompt = prompt[0];
  }
  if (typeof prompt === 'string') {
    if (prompt === '') throw badRequest('Either prompt or prompt_embeds must be provided and non-empty.', 'prompt');
    return tokenize(prompt);
  }
  if (Array.isArray(prompt)) {
    if (prompt.length === 0)
      throw badRequest('Either prompt or prompt_embeds must be provided and non-empty.', 'prompt');
    if (prompt.every((t) => typeof t === 'number' && Number.isInteger(t) && t >= 0)) return prompt.map(String);
    if (prompt.every((t) => typeof t === 'string' || Array.isArray(t))) {
      throw badRequest('batched prompts (a list of several prompts) are not supported by the simulator', 'prompt');
    }
    throw badRequest("'prompt' must be a string, a list of token ids, or a list with one prompt", 'prompt');
  }
  if (prompt === undefined || prompt === null) {
    throw badRequest('Either prompt or prompt_embeds must be provided and non-empty.', 'prompt');
  }
  throw badRequest("'prompt' must be a string or a list of token ids", 'prompt');
}

/**
 * Chat prompt rule: each message contributes its role as one token, then its content's words
 * (so a client can predict prompt_tokens with countTokens on "role content" per message).
 */
function chatPrompt(body: Record<string, unknown>): string[] {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw badRequest("'messages' must be a non-empty list of messages", 'messages');
  }
  const words: string[] = [];
  for (const m of messages) {
    if (!isRecord(m) || typeof m.role !== 'string') {
      throw badRequest("every message needs a string 'role'", 'messages');
    }
    words.push(m.role, ...tokenize(contentText(m.content, 'messages')));
  }
  return words;
}

/** Responses prompt: `instructions` words, then `input` (a string or a list of message items). */
function responsesPrompt(body: Record<string, unknown>): string[] {
  const words: string[] = [];
  if (typeof body.instructions === 'string') words.push('system', ...tokenize(body.instructions));
  const input = body.input;
  if (typeof input === 'string') {
    words.push('user', ...tokenize(input));
  } else if (Array.isArray(input)) {
    for (const item of input) {
      if (!isRecord(item)) throw badRequest("'input' items must be objects", 'input');
      words.push(typeof item.role === 'string' ? item.role : 'user', ...tokenize(contentText(item.content, 'input')));
    }
  } else {
    throw badRequest("'input' must be a string or a list of input items", 'input');
  }
  if (words.length === 0) throw badRequest("'input' must not be empty", 'input');
  return words;
}

/** Validates a parsed JSON body for `route`; throws SimHttpError (400) with vLLM-like messages. */
export function parseSimRequest(route: SimRoute, body: unknown): SimRequest {
  if (!isRecord(body)) throw badRequest('request body must be a JSON object');
  const model = body.model;
  if (model !== undefined && model !== null && typeof model !== 'string')
    throw badRequest("'model' must be a string", 'model');
  const stream = optionalBool(body, 'stream');
  const streamOptions = body.stream_options;
  if (streamOptions !== undefined && streamOptions !== null) {
    if (!isRecord(streamOptions)) throw badRequest("'stream_options' must be an object", 'stream_options');
    if (!stream) throw badRequest('Stream options can only be defined when `stream=True`.', 'stream_options');
  }
  const n = optionalInt(body, 'n', 1);
  if (n !== undefined && n > 1) throw badRequest('n > 1 is not supported by the simulator', 'n');

  let promptWords: string[];
  let maxTokens: number | undefined;
  if (route === '/v1/completions') {
    promptWords = completionPrompt(body);
    maxTokens = optionalInt(body, 'max_tokens', 1);
  } else if (route === '/v1/chat/completions') {
    promptWords = chatPrompt(body);
    // vLLM: max_completion_tokens wins over the deprecated max_tokens.
    maxTokens = optionalInt(body, 'max_completion_tokens', 1) ?? optionalInt(body, 'max_tokens', 1);
  } else {
    promptWords = responsesPrompt(body);
    maxTokens = optionalInt(body, 'max_output_tokens', 1);
  }
  const minTokens = optionalInt(body, 'min_tokens', 0) ?? optionalInt(body, 'min_completion_tokens', 0) ?? 0;

  const kv = body.kv_transfer_params;
  if (kv !== undefined && kv !== null && !isRecord(kv)) {
    throw badRequest("'kv_transfer_params' must be an object", 'kv_transfer_params');
  }
  const kvTransferParams = isRecord(kv) ? kv : undefined;
  if (kvTransferParams?.do_remote_decode === true && stream) {
    throw badRequest(
      'a prefill request (kv_transfer_params.do_remote_decode=true) must not stream: send stream=false',
      'kv_transfer_params',
    );
  }
  const so = isRecord(streamOptions) ? streamOptions : undefined;
  // vLLM's StreamOptions defaults include_usage to true once stream_options is present.
  const includeUsage = so !== undefined && so.include_usage !== false && so.include_usage !== null;
  const continuousUsage = so !== undefined && so.continuous_usage_stats === true;
  return {
    route,
    model: typeof model === 'string' ? model : undefined,
    promptWords,
    maxTokens,
    minTokens,
    ignoreEos: optionalBool(body, 'ignore_eos'),
    stopTokenIds: intList(body, 'stop_token_ids'),
    stop: stopList(body),
    stream,
    includeUsage,
    continuousUsage,
    kvTransferParams,
    temperature: optionalNumber(body, 'temperature'),
    topP: optionalNumber(body, 'top_p'),
  };
}

/** Output cap after vLLM's context-length checks; throws the 400 vLLM answers when it does not fit. */
export function resolveMaxTokens(req: SimRequest, maxModelLen: number): number {
  const p = req.promptWords.length;
  const what = req.route === '/v1/completions' ? 'prompt' : 'messages';
  if (p >= maxModelLen) {
    throw new SimHttpError(
      400,
      `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${p} input tokens. Please reduce the length of the input ${what}.`,
      req.route === '/v1/completions' ? 'prompt' : req.route === '/v1/responses' ? 'input' : 'messages',
    );
  }
  const maxTokens = req.maxTokens ?? maxModelLen - p;
  if (req.minTokens > maxTokens) {
    throw new SimHttpError(
      400,
      `min_tokens must be less than or equal to max_tokens=${maxTokens}, got ${req.minTokens}.`,
      'min_tokens',
    );
  }
  if (req.maxTokens === undefined) return maxTokens;
  if (req.maxTokens > maxModelLen - p) {
    const param = req.route === '/v1/responses' ? 'max_output_tokens' : 'max_tokens';
    throw new SimHttpError(
      400,
      `'max_tokens' or 'max_completion_tokens' is too large: ${req.maxTokens}. This model's maximum context length is ${maxModelLen} tokens and your request has ${p} input tokens (${req.maxTokens} > ${maxModelLen} - ${p}).`,
      param,
    );
  }
  return req.maxTokens;
}
