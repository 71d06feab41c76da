/**
 * Load side of cpu-per-1k.ts, run as its own process so the simulator's CPU figure excludes it:
 * opens `streams` streaming completions per pod url, reads them to the end, prints one JSON summary.
 * Usage: node cpu-load-client.ts --urls URL... --streams N --tokens N
 */
import http from 'node:http';
import { type FlagSpec, parseScriptFlags } from '@pdrouter/cli';

const FLAGS = [
  { name: 'urls', type: 'list', help: 'Pod base URLs.' },
  { name: 'streams', type: 'int', min: 1, default: 16, help: 'Streams per pod.' },
  { name: 'tokens', type: 'int', min: 1, default: 1000, help: 'Tokens per stream.' },
] as const satisfies readonly FlagSpec[];
const { urls, streams, tokens } = parseScriptFlags(
  { program: 'cpu-load-client.ts', intro: ['The load side of cpu-per-1k.ts: streams to every pod, one JSON summary.'] },
  FLAGS,
);
const agent = new http.Agent({ keepAlive: true, maxSockets: streams });

function stream(url: string, index: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({
      prompt: `load stream ${index} of ${url}`,
      max_tokens: tokens,
      ignore_eos: true,
      stream: true,
    });
    const req = http.request(
      `${url}/v1/completions`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let events = 0;
        let tail = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const text = tail + chunk;
          let i = text.indexOf('\n\n');
          let start = 0;
          while (i !== -1) {
            events++;
            start = i + 2;
            i = text.indexOf('\n\n', start);
          }
          tail = text.slice(start);
        });
        res.on('end', () => resolve(events - 1)); // minus [DONE]
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const started = performance.now();
const counts = await Promise.all(urls.flatMap((u) => Array.from({ length: streams }, (_, i) => stream(u, i))));
const wallMs = performance.now() - started;
const total = counts.reduce((a, b) => a + b, 0);
process.stdout.write(`${JSON.stringify({ tokens: total, wallMs, streams: counts.length })}\n`);
agent.destroy();
