// The in-process test fixture: a local pod on a real socket and a proxy created in this process with the
// pod as both prefill and decode, both listening on 127.0.0.1 port 0.
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { ProxyInstance } from '../src/proxy.ts';
import { listenLocal, startProxy } from './helpers.ts';

export interface TestProxyOptions {
  /** Flags after the common ones (P/D with the pod as prefill and decode, ports 0 on 127.0.0.1). */
  flags?: string[];
  /** Cut the pod's open connections on close, for pods that may still be writing a long answer. */
  closePodConnections?: boolean;
}

export interface TestProxy {
  pod: Server;
  proxy: ProxyInstance;
  url: string;
  metricsUrl: string;
  /** Closes the proxy, then the pod. */
  close(): Promise<void>;
}

/** Starts a pod answering with `handler` and a listening proxy in front of it. */
export async function startTestProxy(handler: RequestListener, options: TestProxyOptions = {}): Promise<TestProxy> {
  // The router's health probes (start-up wait, active checks) are answered as a vLLM pod does; the
  // handler sees the inference requests only.
  const pod = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') return void res.end();
    return handler(req, res);
  });
  const podUrl = await listenLocal(pod);
  const { proxy, url, metricsUrl } = await startProxy([
    '--pd-disaggregation',
    '--prefill',
    podUrl,
    '--decode',
    podUrl,
    ...(options.flags ?? []),
  ]);
  return {
    pod,
    proxy,
    url,
    metricsUrl,
    async close() {
      await proxy.close();
      if (options.closePodConnections) pod.closeAllConnections();
      await new Promise<void>((r) => pod.close(() => r()));
    },
  };
}

/**
 * A pod answering both legs as vLLM does, in the least that passes: the prefill leg (do_remote_decode) with
 * JSON and kv params, the decode leg with a one-event stream. `seen` gets each request's headers.
 */
export function minimalPdPod(seen: IncomingHttpHeaders[]): RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(req.headers);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      if ((body.kv_transfer_params as Record<string, unknown> | undefined)?.do_remote_decode === true) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ text: 'x' }], kv_transfer_params: { remote_engine_id: 'e' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"choices":[{"text":"a"}]}\n\ndata: [DONE]\n\n');
    });
  };
}
