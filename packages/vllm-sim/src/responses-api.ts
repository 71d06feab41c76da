import type { FinishReason } from './engine.ts';
import type { SimRequest } from './request.ts';
import type { BodyParts } from './wire.ts';

/**
 * /v1/responses (OpenAI Responses API as vLLM serves it): a message output item with one output_text
 * part; streaming as typed events (response.created ... response.completed), no [DONE] sentinel.
 */

function responseObject(
  id: string,
  created: number,
  model: string,
  req: SimRequest,
  status: 'in_progress' | 'completed' | 'incomplete',
  output: unknown[],
  usage: { input: number; output: number; cached: number } | null,
  kvTransferParams: Record<string, unknown> | null = null,
): Record<string, unknown> {
  return {
    id,
    created_at: created,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: null,
    metadata: null,
    model,
    object: 'response',
    output,
    parallel_tool_calls: true,
    temperature: req.temperature,
    tool_choice: 'auto',
    tools: [],
    top_p: req.topP,
    background: false,
    max_output_tokens: req.maxTokens ?? null,
    max_tool_calls: null,
    previous_response_id: null,
    prompt: null,
    reasoning: null,
    service_tier: 'auto',
    status,
    text: null,
    top_logprobs: null,
    truncation: 'disabled',
    usage:
      usage === null
        ? null
        : {
            input_tokens: usage.input,
            input_tokens_details: { cached_tokens: usage.cached },
            output_tokens: usage.output,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: usage.input + usage.output,
          },
    user: null,
    kv_transfer_params: kvTransferParams,
  };
}

function messageItem(itemId: string, text: string, status: 'in_progress' | 'completed'): Record<string, unknown> {
  return {
    id: itemId,
    content: status === 'completed' ? [{ annotations: [], text, type: 'output_text', logprobs: null }] : [],
    role: 'assistant',
    status,
    type: 'message',
  };
}

function itemIdOf(responseId: string): string {
  return `msg_${responseId.startsWith('resp_') ? responseId.slice(5) : responseId}`;
}

export function responsesBody(p: BodyParts, req: SimRequest): Record<string, unknown> {
  const status = p.finishReason === 'length' && req.maxTokens !== undefined ? 'incomplete' : 'completed';
  return responseObject(
    p.id,
    p.created,
    p.model,
    req,
    status,
    [messageItem(itemIdOf(p.id), p.text, 'completed')],
    { input: p.promptTokens, output: p.completionTokens, cached: p.cachedTokens },
    p.kvTransferParams,
  );
}

/** Event builder for one streamed response. */
export class ResponsesStream {
  private seqNo = 0;
  private readonly id: string;
  private readonly itemId: string;
  private readonly created: number;
  private readonly model: string;
  private readonly req: SimRequest;
  private readonly promptTokens: number;
  private readonly deltaHead: string;

  constructor(id: string, created: number, model: string, req: SimRequest, promptTokens: number) {
    this.id = id;
    this.itemId = itemIdOf(id);
    this.created = created;
    this.model = model;
    this.req = req;
    this.promptTokens = promptTokens;
    this.deltaHead = `,"item_id":${JSON.stringify(this.itemId)},"output_index":0,"content_index":0,"delta":`;
  }

  private event(type: string, fields: Record<string, unknown>): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.seqNo++, ...fields })}\n\n`;
  }

  opening(): string {
    const inProgress = responseObject(this.id, this.created, this.model, this.req, 'in_progress', [], null);
    return (
      this.event('response.created', { response: inProgress }) +
      this.event('response.in_progress', { response: inProgress }) +
      this.event('response.output_item.added', { output_index: 0, item: messageItem(this.itemId, '', 'in_progress') }) +
      this.event('response.content_part.added', {
        item_id: this.itemId,
        output_index: 0,
        content_index: 0,
        part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
      })
    );
  }

  delta(wordJson: string): string {
    const n = this.seqNo++;
    return `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":${n}${this.deltaHead}${wordJson},"logprobs":[]}\n\n`;
  }

  closing(text: string, finish: FinishReason, outputTokens: number, cachedTokens: number): string {
    const status = finish === 'length' && this.req.maxTokens !== undefined ? 'incomplete' : 'completed';
    const item = messageItem(this.itemId, text, 'completed');
    const final = responseObject(this.id, this.created, this.model, this.req, status, [item], {
      input: this.promptTokens,
      output: outputTokens,
      cached: cachedTokens,
    });
    return (
      this.event('response.output_text.done', {
        item_id: this.itemId,
        output_index: 0,
        content_index: 0,
        text,
        logprobs: [],
      }) +
      this.event('response.content_part.done', {
        item_id: this.itemId,
        output_index: 0,
        content_index: 0,
        part: { type: 'output_text', text, annotations: [], logprobs: [] },
      }) +
      this.event('response.output_item.done', { output_index: 0, item }) +
      this.event(status === 'completed' ? 'response.completed' : 'response.incomplete', { response: final })
    );
  }
}
