// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
// An independent BigInt transcription of vllm-router's hashing, used only by tests to cross-check
// the 32-bit-halves implementation on random inputs.

const MASK = (1n << 64n) - 1n;
const M = 0xc6a4a7935bd1e995n;
const SEED = 4193360111n;

export function refMurmur64a(bytes: Uint8Array, seed: bigint = SEED): bigint {
  let h = (seed ^ ((BigInt(bytes.length) * M) & MASK)) & MASK;
  const blocks = bytes.length - (bytes.length % 8);
  for (let i = 0; i < blocks; i += 8) {
    let k = 0n;
    for (let j = 7; j >= 0; j--) k = (k << 8n) | BigInt(bytes[i + j]!);
    k = (k * M) & MASK;
    k ^= k >> 47n;
    k = (k * M) & MASK;
    h ^= k;
    h = (h * M) & MASK;
  }
  const rem = bytes.length % 8;
  if (rem > 0) {
    for (let j = rem - 1; j >= 0; j--) h ^= BigInt(bytes[blocks + j]!) << BigInt(8 * j);
    h = (h * M) & MASK;
  }
  h ^= h >> 47n;
  h = (h * M) & MASK;
  h ^= h >> 47n;
  return h;
}

function le64(k: bigint): Uint8Array {
  const out = new Uint8Array(8);
  for (let j = 0; j < 8; j++) out[j] = Number((k >> BigInt(8 * j)) & 0xffn);
  return out;
}

export function refFurc(bytes: Uint8Array, m: number): number {
  if (m <= 1) return 0;
  const words: bigint[] = [];
  const bit = (idx: number): number => {
    const ord = idx >> 6;
    while (words.length <= ord) {
      words.push(words.length === 0 ? refMurmur64a(bytes) : refMurmur64a(le64(words[words.length - 1]!)));
    }
    return Number((words[ord]! >> BigInt(idx & 63)) & 1n);
  };
  let d = 0;
  while (m > 2 ** d) d++;
  let a = d;
  for (let t = 0; t < 32; t++) {
    while (!bit(a)) {
      if (d === 0) return 0;
      d -= 1;
      a = d;
    }
    a += 23;
    let num = 1;
    for (let i = 0; i < Math.max(d - 1, 0); i++) {
      num = num * 2 + bit(a);
      a += 23;
    }
    if (num < m) return num;
  }
  return 0;
}

export function refFbiHash(key: string): bigint {
  const f = refFurc(new TextEncoder().encode(key), 2 ** 23 - 1);
  const le32 = new Uint8Array([f & 0xff, (f >>> 8) & 0xff, (f >>> 16) & 0xff, (f >>> 24) & 0xff]);
  return refMurmur64a(le32);
}

export function refHex(h: bigint): string {
  return h.toString(16).padStart(16, '0');
}
