// A decode pod whose stream the test holds open: it answers like vLLM with a kv connector (an SSE stream
// for a decode leg that carries the prefill's kv params), sends the first event at once and the rest only
// when the test calls release(). Tests of the drain use it so "a stream is in flight" is a fact, not a
// matter of timing on a loaded machine.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { closeServer, listenLocal } from './helpers.ts';

export interface HeldPod {
  readonly url: string;
  /** Decode legs received so far (their bodies). */
  readonly received: { headers: IncomingHttpHeaders; body: Record<string, unknown> }[];
  /** Sends the rest of every held stream and [DONE]. */
  release(): void;
  /** Holds the streams that arrive from now on again. */
  hold(): void;
  close(): Promise<void>;
}

export async function startHeldPod(): Promise<HeldPod> {
  const received: HeldPod['received'] = [];
  const waiting: (() => void)[] = [];
  let released = false;
  const server: Server = createServer((req, res) => {
    // The router's health probes, answered as vLLM does.
    if (req.method === 'GET' && req.url === '/health') return void res.end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      received.push({ headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"choices":[{"text":"first"}]}\n\n');
      const finish = () => {
        res.write('data: {"choices":[{"text":" last"}]}\n\n');
        res.end('data: [DONE]\n\n');
      };
      if (released) finish();
      else waiting.push(finish);
    });
  });
  const url = await listenLocal(server);
  return {
    url,
    received,
    release() {
      released = true;
      for (const w of waiting.splice(0)) w();
    },
    hold() {
      released = false;
    },
    close: () => closeServer(server),
  };
}
