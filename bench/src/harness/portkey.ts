import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand, type SpawnedProcess, spawnProcess } from '@pdrouter/testkit';

/** The TypeScript AI gateway compared in the overhead scenario, installed from the npm registry by the scenario. */
export const PORTKEY_PACKAGE = '@portkey-ai/gateway';
export const PORTKEY_VERSION = '1.15.2';
const NPM_INSTALL_TIMEOUT_MS = 10 * 60_000;
export const PORTKEY_READY_TIMEOUT_MS = 30_000;

/**
 * Portkey appends its own headers (x-portkey-trace-id, ...) to the Response it got from fetch(). Fetch responses
 * have immutable headers (Fetch standard, enforced by Node's undici), so on Node 20/24 every proxied request fails
 * with 500 "immutable". This preload, loaded with `node --import`, hands Portkey a copy of each upstream response
 * with mutable headers (same status, headers and streamed body); nothing else in the gateway changes.
 */
const MUTABLE_FETCH_PRELOAD = `// Gives the gateway fetch responses whose headers it may append to (see bench/src/harness/portkey.ts).
const upstreamFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const res = await upstreamFetch(input, init);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: new Headers(res.headers) });
};
`;

export interface PortkeyInstall {
  readonly dir: string;
  readonly entry: string;
  readonly preload: string;
}

/** Installs the gateway into a cache directory under the OS temp dir (reused across runs). */
export async function ensurePortkey(log: (line: string) => void): Promise<PortkeyInstall> {
  const dir = join(tmpdir(), `pdrouter-bench-portkey-${PORTKEY_VERSION}`);
  const entry = join(dir, 'node_modules', PORTKEY_PACKAGE, 'build', 'start-server.js');
  const preload = join(dir, 'mutable-fetch.mjs');
  if (!existsSync(entry)) {
    log(`installing ${PORTKEY_PACKAGE}@${PORTKEY_VERSION} from the npm registry into ${dir}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'package.json'), '{ "name": "portkey-bench", "private": true, "type": "module" }\n');
    const res = await runCommand(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel=error', `${PORTKEY_PACKAGE}@${PORTKEY_VERSION}`],
      { cwd: dir, timeoutMs: NPM_INSTALL_TIMEOUT_MS },
    );
    if (res.code !== 0 || !existsSync(entry))
      throw new Error(`npm install ${PORTKEY_PACKAGE} failed: ${res.stderr.slice(-1500)}`);
  }
  await writeFile(preload, MUTABLE_FETCH_PRELOAD);
  return { dir, entry, preload };
}

/** Starts the gateway (headless, production) on a port; it listens on every interface (it has no host option). */
export async function startPortkey(
  install: PortkeyInstall,
  port: number,
  withPreload: boolean,
): Promise<{ child: SpawnedProcess; url: string }> {
  const child = await spawnProcess(
    process.execPath,
    [...(withPreload ? ['--import', install.preload] : []), install.entry, `--port=${port}`, '--headless'],
    {
      name: 'portkey-gateway',
      cwd: install.dir,
      env: { ...process.env, NODE_ENV: 'production' },
      readyLine: (line) => line.includes('Ready for connections'),
      timeoutMs: PORTKEY_READY_TIMEOUT_MS,
    },
  );
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Headers that make the gateway load-balance over the pods as OpenAI-compatible custom hosts. */
export function portkeyHeaders(podUrls: readonly string[]): string[] {
  const config = {
    strategy: { mode: 'loadbalance' },
    targets: podUrls.map((u) => ({ provider: 'openai', custom_host: `${u}/v1`, api_key: 'unused', weight: 1 })),
  };
  return ['--header', `x-portkey-config=${JSON.stringify(config)}`];
}
