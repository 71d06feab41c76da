import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, runCommand, type SpawnedProcess, spawnProcess, waitUntil } from '@pdrouter/testkit';

/** apt-get can take minutes on a cold cache. */
const APT_TIMEOUT_MS = 10 * 60_000;
export const NGINX_READY_TIMEOUT_MS = 15_000;
const PORT_POLL_INTERVAL_MS = 50;
/** Idle upstream connections nginx keeps per worker (enough for concurrency 256). */
const NGINX_UPSTREAM_KEEPALIVE = 512;

function which(program: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Finds nginx, installing Debian's nginx-light (or nginx) with apt-get when it is missing. */
export async function ensureNginx(log: (line: string) => void): Promise<string> {
  const found = which('nginx') ?? (which('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined);
  if (found) return found;
  if (process.getuid?.() !== 0 && !which('sudo'))
    throw new Error('nginx is missing and this is not root: apt-get install nginx-light');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const apt = async (args: string[]) => {
    const [cmd, ...rest] = [...sudo, 'apt-get', ...args];
    return runCommand(cmd as string, rest, {
      timeoutMs: APT_TIMEOUT_MS,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  log('nginx not found: apt-get update && apt-get install -y nginx-light');
  await apt(['update', '-qq']);
  let res = await apt(['install', '-y', '-qq', 'nginx-light']);
  if (res.code !== 0) res = await apt(['install', '-y', '-qq', 'nginx']);
  if (res.code !== 0) throw new Error(`apt-get install nginx failed: ${res.stderr.slice(-1000)}`);
  const installed = which('nginx') ?? '/usr/sbin/nginx';
  return installed;
}

export function nginxVersion(binary: string): string {
  try {
    return execFileSync(binary, ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    // nginx -v prints to stderr
    return String((err as { stderr?: string }).stderr ?? '').trim();
  }
}

/**
 * nginx as a consistent-hash streaming proxy in front of the pods: `hash $http_x_request_id consistent` (ketama, the
 * same key pdrouter uses in vllm-router mode under `vllm bench serve`), buffering off both ways, HTTP/1.1 keep-alive
 * upstream connections. One worker, so its CPU compares with one Node process. Foreground, own pid/log/temp paths.
 */
export async function startNginx(
  binary: string,
  port: number,
  upstreams: readonly string[],
): Promise<{ child: SpawnedProcess; url: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pdrouter-nginx-'));
  const servers = upstreams.map((u) => `    server ${new URL(u).host} max_fails=0;`).join('\n');
  const conf = `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 64m;
  upstream pods {
    hash $http_x_request_id consistent;
${servers}
    keepalive ${NGINX_UPSTREAM_KEEPALIVE};
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://pods;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 600s;
    }
  }
}
`;
  await writeFile(join(dir, 'nginx.conf'), conf);
  const child = await spawnProcess(binary, ['-p', dir, '-c', join(dir, 'nginx.conf')], { name: 'nginx' });
  try {
    await waitForPort(port, NGINX_READY_TIMEOUT_MS);
  } catch (err) {
    await child.stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${child.output()}`);
  }
  return { child, url: `http://127.0.0.1:${port}`, dir };
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port, rejects after the deadline. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  await waitUntil(() => canConnect('127.0.0.1', port), {
    timeoutMs,
    intervalMs: PORT_POLL_INTERVAL_MS,
    description: `something listening on 127.0.0.1:${port}`,
  });
}
