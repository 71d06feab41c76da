import { crc32, inflateRawSync } from 'node:zlib';

// https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT sections 4.3.7 (local header),
// 4.3.12 (central directory header) and 4.3.16 (end of central directory).
const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_MIN_BYTES = 22;
const MAX_COMMENT_BYTES = 0xffff;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;

function findEndOfCentralDirectory(zip: Buffer): number {
  const lowest = Math.max(0, zip.length - EOCD_MIN_BYTES - MAX_COMMENT_BYTES);
  for (let i = zip.length - EOCD_MIN_BYTES; i >= lowest; i--) {
    if (zip.readUInt32LE(i) === EOCD_SIGNATURE) return i;
  }
  throw new Error('not a zip file (no end of central directory)');
}

/** Extracts one file from a zip archive (stored or deflated, no zip64) and checks its CRC-32. */
export function readZipEntry(zip: Buffer, wanted: string): Buffer {
  const eocd = findEndOfCentralDirectory(zip);
  const entries = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(offset) !== CENTRAL_SIGNATURE) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(offset + 10);
    const crc = zip.readUInt32LE(offset + 16);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const size = zip.readUInt32LE(offset + 24);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const localOffset = zip.readUInt32LE(offset + 42);
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    offset += 46 + nameLength + extraLength + commentLength;
    if (name !== wanted) continue;
    if (zip.readUInt32LE(localOffset) !== LOCAL_SIGNATURE) throw new Error(`corrupt zip local header for ${name}`);
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    let out: Buffer;
    if (method === METHOD_STORED) out = Buffer.from(data);
    else if (method === METHOD_DEFLATE) out = inflateRawSync(data);
    else throw new Error(`${name}: unsupported zip compression method ${method}`);
    if (out.length !== size || crc32(out) !== crc) throw new Error(`${name}: size or CRC-32 mismatch`);
    return out;
  }
  throw new Error(`${wanted} not found in the zip`);
}
