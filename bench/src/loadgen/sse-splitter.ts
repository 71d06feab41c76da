/**
 * Incremental splitter of an SSE byte stream (decoded to text) into the `data` payloads of its events: events end
 * at a blank line (LF or CRLF), multi-line data is joined with '\n', comments and other fields are skipped.
 */
export class SseDataSplitter {
  #buffer = '';
  #pendingCr = false;

  /** Feeds a piece of the stream; returns the data of every event it completed. */
  push(text: string): string[] {
    let piece = this.#pendingCr ? `\r${text}` : text;
    this.#pendingCr = false;
    if (piece.includes('\r')) {
      // A CR at the very end may be the first half of a CRLF split across reads: keep it for the next one.
      if (piece.endsWith('\r')) {
        this.#pendingCr = true;
        piece = piece.slice(0, -1);
      }
      piece = piece.replace(/\r\n?/g, '\n');
    }
    const buffer = this.#buffer.length === 0 ? piece : this.#buffer + piece;
    const out: string[] = [];
    let start = 0;
    for (;;) {
      const stop = buffer.indexOf('\n\n', start);
      if (stop === -1) break;
      const data = eventData(buffer.slice(start, stop));
      if (data !== undefined) out.push(data);
      start = stop + 2;
    }
    this.#buffer = start === 0 ? buffer : buffer.slice(start);
    return out;
  }

  /** The data of a last event the stream ended without a blank line after. */
  end(): string[] {
    const rest = this.#buffer;
    this.#buffer = '';
    this.#pendingCr = false;
    const data = rest.trim().length > 0 ? eventData(rest) : undefined;
    return data === undefined ? [] : [data];
  }
}

function eventData(block: string): string | undefined {
  // Fast path: a single `data: {...}` line, which is every event vLLM sends.
  if (block.startsWith('data: ') && block.indexOf('\n') === -1) return block.slice(6);
  let data: string | undefined;
  for (const line of block.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}
