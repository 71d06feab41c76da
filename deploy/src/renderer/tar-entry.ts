import { gunzipSync } from 'node:zlib';

const TAR_BLOCK_BYTES = 512;

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

/**
 * Reads one regular file out of a .tgz (ustar, as npm packs). A few dozen lines instead of a dependency or
 * the system's tar, so a machine with only Node can unpack the renderer.
 */
export function readTgzEntry(tgz: Uint8Array, wanted: string): Buffer {
  const tar = gunzipSync(tgz);
  let offset = 0;
  while (offset + TAR_BLOCK_BYTES <= tar.length) {
    const header = tar.subarray(offset, offset + TAR_BLOCK_BYTES);
    if (header.every((b) => b === 0)) break;
    const name = field(header, 0, 100);
    const prefix = field(header, 345, 155);
    const fullName = prefix ? `${prefix}/${name}` : name;
    const size = Number.parseInt(field(header, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const dataStart = offset + TAR_BLOCK_BYTES;
    if (fullName === wanted && (type === '0' || type === '\0')) {
      return Buffer.from(tar.subarray(dataStart, dataStart + size));
    }
    offset = dataStart + Math.ceil(size / TAR_BLOCK_BYTES) * TAR_BLOCK_BYTES;
  }
  throw new Error(`${wanted} not found in the tarball`);
}
