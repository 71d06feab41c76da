import { fnv1a32, mix32 } from './hash.ts';

/**
 * Block hashes of a prompt, chained like vLLM's prefix caching: block i's hash covers its own tokens and
 * the hash of block i-1, so equal hashes mean equal prefixes. Only full blocks are hashed. A hash is a
 * 52-bit integer (two 26-bit halves of two independent 32-bit hashes), exact in a double.
 */
export function computeBlockHashes(tokens: readonly string[], blockSize: number, salt = ''): number[] {
  const hashes: number[] = [];
  let prevA = fnv1a32(salt, 0x811c9dc5);
  let prevB = fnv1a32(salt, 0x050c5d1f);
  const fullBlocks = Math.floor(tokens.length / blockSize);
  for (let b = 0; b < fullBlocks; b++) {
    let a = mix32(prevA ^ 0x9e3779b9);
    let c = mix32(prevB ^ 0x7f4a7c15);
    for (let t = b * blockSize; t < (b + 1) * blockSize; t++) {
      const word = tokens[t] as string;
      a = fnv1a32(word, a ^ 0x20);
      c = fnv1a32(word, c ^ 0x0a);
    }
    prevA = mix32(a);
    prevB = mix32(c);
    hashes.push((prevA >>> 6) * 0x4000000 + (prevB >>> 6));
  }
  return hashes;
}

/** An LRU set of block hashes with a fixed capacity in blocks. */
export class PrefixCache {
  readonly capacityBlocks: number;
  // A Map keeps insertion order: the first key is the least recently used block.
  private readonly blocks = new Map<number, true>();

  constructor(capacityBlocks: number) {
    this.capacityBlocks = Math.max(0, Math.floor(capacityBlocks));
  }

  get size(): number {
    return this.blocks.size;
  }

  /** Number of leading blocks of `hashes` present in the cache; touches them (most recently used). */
  matchPrefix(hashes: readonly number[]): number {
    let hits = 0;
    for (const h of hashes) {
      if (!this.blocks.has(h)) break;
      this.blocks.delete(h);
      this.blocks.set(h, true);
      hits++;
    }
    return hits;
  }

  /** Adds (or refreshes) blocks, evicting the least recently used ones beyond capacity. */
  insert(hashes: readonly number[]): void {
    if (this.capacityBlocks === 0) return;
    for (const h of hashes) {
      this.blocks.delete(h);
      this.blocks.set(h, true);
    }
    while (this.blocks.size > this.capacityBlocks) {
      const oldest = this.blocks.keys().next();
      if (oldest.done) break;
      this.blocks.delete(oldest.value);
    }
  }

  clear(): void {
    this.blocks.clear();
  }
}
