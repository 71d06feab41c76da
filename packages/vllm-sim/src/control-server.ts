import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorBody } from './errors.ts';
import type { SimFleet } from './fleet.ts';
import { readBody, sendJson } from './http-util.ts';
import { validateFaults } from './options.ts';

/** Largest faults body the control server reads. */
const CONTROL_BODY_LIMIT_BYTES = 64 * 1024;

export interface ControlServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Runtime control of a fleet: GET /pods (stats of all), GET /pods/{name}, POST /pods/{name}/faults
 * (JSON Partial<Faults>), POST /pods/{name}/stop, POST /pods/{name}/start.
 */
export async function startControlServer(fleet: SimFleet, host = '127.0.0.1', port = 0): Promise<ControlServer> {
  const server = http.createServer((req, res) => {
    handle(fleet, req, res).catch((err: unknown) => sendJson(res, 500, errorBody(500, String(err))));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(fleet: SimFleet, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] as string;
  const method = req.method ?? 'GET';
  if (path === '/pods') {
    if (method !== 'GET') return void sendJson(res, 405, errorBody(405, 'use GET /pods'));
    return void sendJson(res, 200, { pods: fleet.pods.map((p) => p.stats()) });
  }
  const m = /^\/pods\/([^/]+)(?:\/(faults|stop|start))?$/.exec(path);
  const pod = m ? fleet.pod(decodeURIComponent(m[1] as string)) : undefined;
  if (!m || pod === undefined) {
    req.resume();
    return void sendJson(res, 404, errorBody(404, `no such pod or route: ${method} ${path}`));
  }
  const action = m[2];
  if (action === undefined) {
    if (method !== 'GET') return void sendJson(res, 405, errorBody(405, `use GET ${path}`));
    return void sendJson(res, 200, pod.stats());
  }
  if (method !== 'POST') {
    req.resume();
    return void sendJson(res, 405, errorBody(405, `use POST ${path}`));
  }
  if (action === 'faults') {
    let parsed: unknown;
    try {
      parsed = JSON.parse((await readBody(req, CONTROL_BODY_LIMIT_BYTES)).toString('utf8'));
    } catch (err) {
      return void sendJson(res, 400, errorBody(400, `faults body must be JSON: ${(err as Error).message}`));
    }
    const checked = validateFaults(parsed);
    if (!checked.ok) return void sendJson(res, 400, errorBody(400, checked.error));
    pod.setFaults(checked.faults);
    return void sendJson(res, 200, pod.stats());
  }
  req.resume();
  if (action === 'stop') await pod.stop();
  else await pod.start();
  sendJson(res, 200, pod.stats());
}
