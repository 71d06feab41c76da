import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openAIErrorBody } from '@pdrouter/core';
import type { Registry } from 'prom-client';

export interface HealthSource {
  /** Ready: every informer has listed once and NATS is connected. */
  ready(): { ready: boolean; reasons: string[] };
  /** Leader, epoch, seq, fingerprint and members, for operators and tests. */
  state(): unknown;
}

/** /healthz (process alive), /readyz, /metrics and /state. Built here, listened on in listenHttp. */
export function createHttpServer(health: HealthSource, registry: Registry): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(405, openAIErrorBody(`method ${req.method} not allowed`, 'invalid_request_error', 'method_not_allowed'));
      return;
    }
    switch (path) {
      case '/healthz':
        json(200, { status: 'ok' });
        return;
      case '/readyz': {
        const r = health.ready();
        json(r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', reasons: r.reasons });
        return;
      }
      case '/state':
        json(200, health.state());
        return;
      case '/metrics':
        registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': registry.contentType });
            res.end(text);
          },
          (err: unknown) => json(500, openAIErrorBody(String(err), 'internal_error', 'internal_error')),
        );
        return;
      default:
        json(404, openAIErrorBody(`no route ${path}`, 'invalid_request_error', 'not_found'));
    }
  });
}

export function listenHttp(server: Server, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const addr = server.address() as AddressInfo;
      const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
      resolve(`http://${shownHost}:${addr.port}`);
    });
  });
}
