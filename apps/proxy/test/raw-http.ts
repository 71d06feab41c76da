// HTTP/1.1 on a raw socket (node:net), for tests that check the bytes a client receives: the status line
// first, then well-formed framing. Each exchange has a deadline.
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  readonly statusLine: string;
  readonly status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** How the end of the body was known. */
  readonly framing: 'content-length' | 'chunked' | 'close' | 'none';
}

export class RawConnection {
  private readonly socket: Socket;
  private buf = Buffer.alloc(0);
  private closed = false;
  private waiter: (() => void) | undefined;

  constructor(port: number, host = '127.0.0.1') {
    this.socket = connect(port, host);
    this.socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.waiter?.();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes received and not yet consumed by a parsed response. */
  get pending(): Buffer {
    return this.buf;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Half-closes: nothing more will be sent (the server closes after its answers). */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves when the peer has closed the connection (or rejects at the deadline). */
  async waitClosed(timeoutMs: number): Promise<void> {
    await this.until(() => (this.closed ? true : undefined), timeoutMs, 'connection close');
  }

  /** The next whole response on the connection. `head` true: a response to HEAD (no body). */
  read(timeoutMs: number, options: { head?: boolean } = {}): Promise<RawResponse> {
    return this.until(() => this.tryParse(options.head === true), timeoutMs, 'a complete response');
  }

  private until<T>(attempt: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(
          new Error(`no ${what} within ${timeoutMs} ms; received: ${JSON.stringify(this.buf.toString('latin1'))}`),
        );
      }, timeoutMs);
      const check = () => {
        let value: T | undefined;
        try {
          value = attempt();
        } catch (err) {
          clearTimeout(timer);
          this.waiter = undefined;
          reject(err);
          return;
        }
        if (value !== undefined) {
          clearTimeout(timer);
          this.waiter = undefined;
          resolve(value);
        } else if (this.closed) {
          clearTimeout(timer);
          this.waiter = undefined;
          reject(
            new Error(`connection closed before ${what}; received: ${JSON.stringify(this.buf.toString('latin1'))}`),
          );
        }
      };
      this.waiter = check;
      check();
    });
  }

  private tryParse(head: boolean): RawResponse | undefined {
    const raw = this.buf;
    if (raw.length >= 5 && raw.subarray(0, 5).toString('latin1') !== 'HTTP/') {
      throw new Error(
        `response does not start with a status line: ${JSON.stringify(raw.subarray(0, 80).toString('latin1'))}`,
      );
    }
    const headEnd = raw.indexOf('\r\n\r\n');
    if (headEnd < 0) return undefined;
    const lines = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
    const statusLine = lines[0] as string;
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!m) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i <= 0) throw new Error(`bad header line ${JSON.stringify(line)}`);
      const k = line.slice(0, i).trim().toLowerCase();
      const v = line.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
    const start = headEnd + 4;
    const done = (body: Buffer, end: number, framing: RawResponse['framing']): RawResponse => {
      this.buf = raw.subarray(end);
      return { statusLine, status, headers, body, framing };
    };
    if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) {
      return done(Buffer.alloc(0), start, 'none');
    }
    if (headers['transfer-encoding'] !== undefined) {
      if (headers['content-length'] !== undefined) throw new Error('both Transfer-Encoding and Content-Length');
      if (headers['transfer-encoding'].toLowerCase() !== 'chunked') {
        throw new Error(`unexpected transfer-encoding ${headers['transfer-encoding']}`);
      }
      const parts: Buffer[] = [];
      let at = start;
      for (;;) {
        const eol = raw.indexOf('\r\n', at);
        if (eol < 0) return undefined;
        const sizeText = raw.subarray(at, eol).toString('latin1');
        if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new Error(`bad chunk size line ${JSON.stringify(sizeText)}`);
        const size = Number.parseInt(sizeText, 16);
        if (size === 0) {
          if (raw.length < eol + 4) return undefined;
          if (raw.subarray(eol + 2, eol + 4).toString('latin1') !== '\r\n') throw new Error('no CRLF after last chunk');
          return done(Buffer.concat(parts), eol + 4, 'chunked');
        }
        if (raw.length < eol + 4 + size) return undefined;
        if (raw.subarray(eol + 2 + size, eol + 4 + size).toString('latin1') !== '\r\n') {
          throw new Error(`chunk ${parts.length} is not followed by CRLF`);
        }
        parts.push(raw.subarray(eol + 2, eol + 2 + size));
        at = eol + 4 + size;
      }
    }
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (!Number.isInteger(n) || n < 0) throw new Error(`bad content-length ${headers['content-length']}`);
      if (raw.length < start + n) return undefined;
      return done(raw.subarray(start, start + n), start + n, 'content-length');
    }
    // Neither: the body ends with the connection.
    if (!this.closed) return undefined;
    return done(raw.subarray(start), raw.length, 'close');
  }
}

/** An HTTP/1.1 request's bytes with a JSON body. */
export function rawRequest(
  method: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string> = {},
  version = 'HTTP/1.1',
): string {
  const all: Record<string, string> = { host: '127.0.0.1', ...headers };
  // An empty value leaves the header out (a request without Host).
  for (const k of Object.keys(all)) if (all[k] === '') delete all[k];
  if (body !== undefined) {
    all['content-type'] ??= 'application/json';
    all['content-length'] ??= String(Buffer.byteLength(body));
  }
  const head = Object.entries(all)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `${method} ${path} ${version}\r\n${head}\r\n${body ?? ''}`;
}
