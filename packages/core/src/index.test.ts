import { expect, test } from 'vitest';
import * as core from './index.ts';

// The names other packages code against (the shared contract); a rename here breaks them.
const CONTRACT = [
  'murmur64a',
  'furc',
  'fbiHash',
  'u64ToHex',
  'compareU64',
  'ConsistentHashRing',
  'pickBoundedLoad',
  'extractHashKey',
  'parseSnapshot',
  'encodeSnapshot',
  'snapshotFingerprint',
  'compareSnapshotOrder',
  'isNewerSnapshot',
  'snapshotFromUrls',
  'PREFILL_KV_TRANSFER_PARAMS',
  'buildPrefillBody',
  'buildDecodeBody',
  'extractKvTransferParams',
  'newRequestId',
  'SseParser',
  'encodeSseEvent',
  'SSE_DONE',
  'RouterError',
  'openAIErrorBody',
  'routerErrorBody',
];

test('exports every contract name', () => {
  for (const name of CONTRACT) expect(core, name).toHaveProperty(name);
});
