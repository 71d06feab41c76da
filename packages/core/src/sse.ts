// An incremental text/event-stream parser following the WHATWG HTML "event stream interpretation"
// (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
// chunks may split anywhere (even inside a CRLF or a UTF-8 sequence), lines end in CRLF, LF or CR,
// comment lines (":...") are ignored, multi-line data is joined with "\n". An event carries `id` only
// when its own block set one (a relay forwards events, it does not track the last event id).

export interface SseEvent {
  event?: string;
  data: string;
  id?: string;
  retry?: number;
}

/** The OpenAI end-of-stream marker, as an encoded event. */
export const SSE_DONE = 'data: [DONE]\n\n';

export function isSseDone(ev: SseEvent): boolean {
  return ev.data === '[DONE]';
}

export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  #buffer = '';
  // A CR ended the previous chunk: a LF starting the next chunk belongs to the same line end.
  #skipLeadingLf = false;
  #sawFirstChunk = false;
  #data: string[] = [];
  #event: string | undefined;
  #id: string | undefined;
  #retry: number | undefined;
  #hasFields = false;

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: string | Uint8Array): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    if (!this.#sawFirstChunk && text.length > 0) {
      this.#sawFirstChunk = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const events: SseEvent[] = [];
    this.#consume(text, events);
    return events;
  }

  /**
   * Ends the stream. The spec drops an event whose blank line never came; this parser still
   * delivers it when all its lines were complete (a server that closes right after the last data
   * line), but drops an unterminated last line, which may have been cut off.
   */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    this.#consume(this.#decoder.decode(), events);
    this.#buffer = '';
    this.#dispatch(events);
    return events;
  }

  #consume(text: string, events: SseEvent[]): void {
    let buffer = this.#buffer + text;
    let start = 0;
    if (this.#skipLeadingLf && buffer.length > 0) {
      if (buffer.charCodeAt(0) === 0x0a) start = 1;
      this.#skipLeadingLf = false;
    }
    for (let i = start; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c !== 0x0a && c !== 0x0d) continue;
      this.#line(buffer.slice(start, i), events);
      if (c === 0x0d) {
        if (i + 1 < buffer.length) {
          if (buffer.charCodeAt(i + 1) === 0x0a) i++;
        } else {
          this.#skipLeadingLf = true;
        }
      }
      start = i + 1;
    }
    buffer = buffer.slice(start);
    this.#buffer = buffer;
  }

  #line(line: string, events: SseEvent[]): void {
    if (line.length === 0) {
      this.#dispatch(events);
      return;
    }
    if (line.charCodeAt(0) === 0x3a) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#data.push(value);
        this.#hasFields = true;
        break;
      case 'event':
        this.#event = value;
        this.#hasFields = true;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.#id = value;
          this.#hasFields = true;
        }
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) {
          this.#retry = Number(value);
          this.#hasFields = true;
        }
        break;
      default:
        // Unknown fields are ignored, as the spec requires.
        break;
    }
  }

  #dispatch(events: SseEvent[]): void {
    if (this.#hasFields && this.#data.length > 0) {
      const ev: SseEvent = { data: this.#data.join('\n') };
      if (this.#event !== undefined && this.#event !== '') ev.event = this.#event;
      if (this.#id !== undefined) ev.id = this.#id;
      if (this.#retry !== undefined) ev.retry = this.#retry;
      events.push(ev);
    }
    this.#data = [];
    this.#event = undefined;
    this.#id = undefined;
    this.#retry = undefined;
    this.#hasFields = false;
  }
}

/** One event on the wire; multi-line data becomes several data lines. */
export function encodeSseEvent(ev: SseEvent | { data: string }): string {
  let out = '';
  const full = ev as SseEvent;
  if (full.event !== undefined) out += `event: ${stripLineBreaks(full.event)}\n`;
  if (full.id !== undefined) out += `id: ${stripLineBreaks(full.id)}\n`;
  if (full.retry !== undefined && Number.isInteger(full.retry) && full.retry >= 0) out += `retry: ${full.retry}\n`;
  for (const line of ev.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

function stripLineBreaks(value: string): string {
  return value.replace(/[\r\n]/g, '');
}
