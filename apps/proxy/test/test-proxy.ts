// The in-process test fixture: a local pod on a real socket and a proxy created in this process with the
// pod as both prefill and decode, both listening on 127.0.0.1 port 0.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildConfig } from '../src/config.ts';
import { parseFlags } from '../src/flags.ts';
import { createProxy, type ProxyInstance } from '../src/proxy.ts';

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
  await new Promise<void>((r) => pod.listen(0, '127.0.0.1', r));
  const podUrl = `http://127.0.0.1:${(pod.address() as AddressInfo).port}`;
  const config = buildConfig(
    parseFlags([
      '--pd-disaggregation',
      '--prefill',
      podUrl,
      '--decode',
      podUrl,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--prometheus-port',
      '0',
      ...(options.flags ?? []),
    ]),
  );
  const proxy = await createProxy(config, { defaultMetrics: false });
  const { url, metricsUrl } = await proxy.listen();
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
