// The in-process test fixture: a local pod on a real socket and a proxy created in this process with the
// pod as both prefill and decode, both listening on 127.0.0.1 port 0.
import { createServer, type RequestListener, type Server } from 'node:http';
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
