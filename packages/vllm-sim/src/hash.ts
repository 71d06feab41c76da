/** Small, fast, deterministic hashes and a seeded PRNG (nothing here needs cryptographic strength). */

/** FNV-1a over the UTF-16 code units of `text`, starting from `basis`; 32-bit unsigned result. */
export function fnv1a32(text: string, basis = 0x811c9dc5): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Final avalanche (murmur3 fmix32) so that close inputs land far apart. */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of a string mixed with a seed. */
export function hashString(text: string, seed = 0): number {
  return mix32(fnv1a32(text, (0x811c9dc5 ^ mix32(seed)) >>> 0));
}

/** mulberry32: a seeded generator of floats in [0, 1). */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return function nextRandom(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uuid-shaped, deterministic id from a seed and a name (engine ids that tests can predict). */
export function deterministicUuid(seed: number, name: string): string {
  const parts: string[] = [];
  for (let i = 0; i < 4; i++)
    parts.push(
      hashString(`${name}#${i}`, seed + i)
        .toString(16)
        .padStart(8, '0'),
    );
  const hex = parts.join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
