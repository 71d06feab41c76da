// The public surface of @pdrouter/core. Every export is named here; nothing is re-exported wholesale.
export { boundedLoadCap, pickBoundedLoad } from './bounded-load.ts';
export { FBI_FURC_MODULUS, fbiHash, fbiHashBytes } from './fbi-hash.ts';
export { FURC_MAX_MODULUS, furc } from './furc.ts';
export { FBI_SEED, FBI_SEED_U64, murmur64a } from './murmur64a.ts';
export type { RingOptions } from './ring.ts';
export { ConsistentHashRing, DEFAULT_VNODES, MAX_VNODES, ringFingerprint } from './ring.ts';
export type { U64 } from './u64.ts';
export { compareU64, u64FromHex, u64ToHex } from './u64.ts';
