// Which text of a request body identifies it for hashing. Bodies are untrusted JSON of any shape:
// every accessor checks types and nothing here throws.

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text parts of an OpenAI content value: a string, or an array of {type:"text", text} parts. */
export function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const texts: string[] = [];
  for (const part of content) {
    if (typeof part === 'string') texts.push(part);
    else if (isObject(part) && typeof part.text === 'string' && (part.type === undefined || isTextPart(part.type))) {
      texts.push(part.text);
    }
  }
  return texts.length > 0 ? texts.join(' ') : undefined;
}

function isTextPart(type: unknown): boolean {
  return type === 'text' || type === 'input_text' || type === 'output_text';
}

/** The first string of a completions prompt (a string or an array whose first item is a string). */
function firstPromptString(prompt: unknown): string | undefined {
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt) && typeof prompt[0] === 'string') return prompt[0];
  return undefined;
}

/**
 * The conversation that identifies a chat for affinity: every system/developer message before the
 * first user message, then that user message, separated by newlines. Later turns are ignored so a
 * growing conversation keeps its key. Undefined when there is no user message.
 */
export function conversationText(messages: unknown, instructions?: unknown): string | undefined {
  if (!Array.isArray(messages)) return undefined;
  const parts: string[] = [];
  if (typeof instructions === 'string' && instructions.length > 0) parts.push(instructions);
  for (const message of messages) {
    if (typeof message === 'string') {
      // /v1/responses accepts bare strings as user input items.
      parts.push(message);
      return parts.join('\n');
    }
    if (!isObject(message)) continue;
    const role = message.role ?? (message.type === 'message' ? 'user' : undefined);
    if (role === 'system' || role === 'developer') {
      const text = contentText(message.content);
      if (text !== undefined) parts.push(text);
    } else if (role === 'user') {
      parts.push(contentText(message.content) ?? '');
      return parts.join('\n');
    }
  }
  return undefined;
}

/**
 * The prompt whose prefix identifies a completions request for affinity: the prompt string, the
 * first string of a prompt array, or the first token-id list written as comma-separated ids.
 */
export function promptText(prompt: unknown): string | undefined {
  const text = firstPromptString(prompt);
  if (text !== undefined) return text;
  if (!Array.isArray(prompt)) return undefined;
  const ids = Array.isArray(prompt[0]) ? prompt[0] : prompt;
  if (ids.length > 0 && ids.every((id) => typeof id === 'number')) return ids.join(',');
  return undefined;
}

/**
 * The text the prefix index sees (docs/design.md §3.6): for chat, the whole conversation rendered in
 * order (`role: content` per message, newline separated, /v1/responses `instructions` first), so each
 * turn's text starts with the previous turn's, as the pod's prompt does; for completions, the prompt
 * (promptText). Undefined when the body has neither.
 */
export function prefixRoutingText(body: Record<string, unknown>): string | undefined {
  return prefixRoutingPieces(body)?.join('');
}

/**
 * prefixRoutingText's pieces in order, not joined: the proxy hashes them where they lie
 * (prefixKeyOfPieces) instead of building a string of the whole conversation per request.
 */
export function prefixRoutingPieces(body: Record<string, unknown>): string[] | undefined {
  const messages = body.messages ?? body.input;
  const instructions = body.instructions;
  const head = typeof instructions === 'string' && instructions.length > 0 ? ['system: ', instructions, '\n'] : [];
  if (typeof messages === 'string') return [...head, 'user: ', messages];
  if (Array.isArray(messages)) {
    const out = head;
    let any = false;
    for (const message of messages) {
      if (typeof message === 'string') {
        if (any) out.push('\n');
        out.push('user: ', message);
        any = true;
      } else if (isObject(message)) {
        if (any) out.push('\n');
        out.push(typeof message.role === 'string' ? message.role : 'user', ': ', contentText(message.content) ?? '');
        any = true;
      }
    }
    return any ? out : undefined;
  }
  const prompt = promptText(body.prompt);
  return prompt === undefined ? undefined : [prompt];
}

/** Characters per token for the estimate: English text under BPE tokenizers (Llama, GPT) runs ~4. */
export const CHARS_PER_TOKEN = 4;

/**
 * The prompt's length in tokens without a tokenizer: a completions prompt given as token ids counts its
 * ids; any other text counts ceil(characters / 4). Good to a factor of ~1.5 for prose, worse for code
 * and non-Latin scripts (which run more tokens per character, so they are underestimated).
 */
export function estimatePromptTokens(body: Record<string, unknown>, text: string | undefined): number {
  return estimatePromptTokensOfChars(body, text?.length);
}

/** estimatePromptTokens from the routing text's length (undefined: no text). */
export function estimatePromptTokensOfChars(body: Record<string, unknown>, textChars: number | undefined): number {
  const prompt = body.prompt;
  if (Array.isArray(prompt) && prompt.length > 0) {
    const ids = Array.isArray(prompt[0]) ? prompt[0] : prompt;
    if (ids.every((id: unknown) => typeof id === 'number')) return ids.length;
  }
  return textChars === undefined ? 0 : Math.ceil(textChars / CHARS_PER_TOKEN);
}
