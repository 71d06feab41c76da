// The public surface of @pdrouter/core. Every export is named here; nothing is re-exported wholesale.

export type { BackoffOptions } from './backoff.ts';
export { Backoff, backoffDelayMs } from './backoff.ts';
export { boundedLoadCap, pickBoundedLoad } from './bounded-load.ts';
export { canonicalJson } from './canonical-json.ts';
export type { ErrorCode, OpenAIErrorBody, RouterErrorOptions } from './errors.ts';
export {
  ERROR_STATUS,
  ERROR_TYPE,
  openAIErrorBody,
  RouterError,
  routerErrorBody,
  toRouterError,
} from './errors.ts';
export { FBI_FURC_MODULUS, fbiHash, fbiHashBytes } from './fbi-hash.ts';
export type { IngestResult, LoadMessage, ParseLoadMessageResult, PeerView } from './fleet-load.ts';
export {
  encodeLoadMessage,
  FLEET_LOAD_MAX_PEERS,
  FleetLoad,
  LOAD_MESSAGE_MAX_COUNT,
  LOAD_MESSAGE_MAX_PODS,
  LOAD_SHARE_SUBJECT_PREFIX,
  loadShareSubject,
  parseLoadMessage,
} from './fleet-load.ts';
export { FURC_MAX_MODULUS, furc } from './furc.ts';
export type { HashKeyMode, HashKeyOptions, HeaderLookup } from './hash-key.ts';
export {
  AFFINITY_KEY_HEADERS,
  DEFAULT_PREFIX_BYTES,
  extractHashKey,
  HASH_KEY_MODES,
  headerLookupFrom,
} from './hash-key.ts';
export { FBI_SEED, FBI_SEED_U64, murmur64a } from './murmur64a.ts';
export type { PdRoute } from './pd-protocol.ts';
export {
  buildDecodeBody,
  buildPrefillBody,
  extractKvTransferParams,
  isPdRoute,
  newRequestId,
  PD_ROUTES,
  PREFILL_KV_TRANSFER_PARAMS,
} from './pd-protocol.ts';
export type { PodGaugesResult } from './pod-gauges.ts';
export {
  KV_USAGE_METRIC,
  KV_USAGE_METRIC_OLD,
  parsePodGauges,
  RUNNING_METRIC,
  WAITING_METRIC,
} from './pod-gauges.ts';
export type { LoadView, PodSignals } from './pod-signals.ts';
export type { PrefixIndexOptions, PrefixKey } from './prefix-index.ts';
export {
  PREFIX_BLOCK_CHARS,
  PREFIX_MAX_BLOCKS,
  PREFIX_PODS_PER_BLOCK,
  PrefixIndex,
  prefixColdHash,
  prefixKey,
  prefixKeyOfPieces,
} from './prefix-index.ts';
export type { LearnedPrefixes, LearnedWire, ParseLearnedResult } from './prefix-share.ts';
export {
  LEARNED_MAX_HASHES,
  LearnedBatch,
  learnedCompatible,
  PREFIX_HASH_ID,
  parseLearned,
} from './prefix-share.ts';
export { rendezvousOrder } from './rendezvous.ts';
export type { RingOptions } from './ring.ts';
export { ConsistentHashRing, DEFAULT_VNODES, MAX_VNODES, ringFingerprint, sortRingMembers } from './ring.ts';
export type { RingPoints } from './ring-points.ts';
export { buildRingPoints } from './ring-points.ts';
export type { FilterOptions, FilterReason, FilterResult, PodLoad } from './routing-pipeline.ts';
export {
  argmax,
  argmin,
  filterCandidates,
  LOAD_SCALE_FLOOR,
  loadScores,
  orderAfterPick,
  podLoad,
  prefixScore,
  ringScore,
} from './routing-pipeline.ts';
export type {
  CacheAwareOptions,
  DecisionReason,
  LoadAwareWeights,
  PodScore,
  RouteInput,
  RoutingDecision,
  ScoringPolicy,
} from './routing-policies.ts';
export {
  cacheAwareDecision,
  DECISION_REASONS,
  DEFAULT_CACHE_AWARE_OPTIONS,
  DEFAULT_LOAD_AWARE_WEIGHTS,
  isImbalanced,
  loadAwareDecision,
} from './routing-policies.ts';
export {
  CHARS_PER_TOKEN,
  conversationText,
  estimatePromptTokens,
  estimatePromptTokensOfChars,
  prefixRoutingPieces,
  prefixRoutingText,
  promptText,
} from './routing-text.ts';
export type { Member, MembershipSum, Role, Snapshot, SnapshotFromUrlsInput, UrlMemberInput } from './snapshot.ts';
export {
  compareSnapshotOrder,
  DEFAULT_POOL,
  encodeSnapshot,
  fingerprintOfSum,
  isNewerSnapshot,
  isPlausibleEpoch,
  MAX_EPOCH_AHEAD_MS,
  memberRingKey,
  membershipSum,
  membershipSumAfter,
  membershipSumInSteps,
  ROLES,
  ringMembers,
  snapshotFingerprint,
  snapshotFromUrls,
} from './snapshot.ts';
export type { ParseSnapshotOptions, ParseSnapshotResult, SnapshotChanges } from './snapshot-parse.ts';
export { checkMemberUrl, PARSE_STEP_MEMBERS, parseSnapshot, parseSnapshotInSteps } from './snapshot-parse.ts';
export type {
  AssembleResult,
  EncodedShard,
  ShardContent,
  ShardContentResult,
  ShardedSnapshot,
  ShardRef,
  SnapshotManifest,
  StoredValue,
} from './snapshot-shards.ts';
export {
  assembleSnapshot,
  assembleSnapshotInSteps,
  chooseShardCount,
  encodeManifest,
  MAX_SHARDS,
  parseShard,
  parseStoredValue,
  SHARD_MAX_AVERAGE_MEMBERS,
  SHARD_MIN_AVERAGE_MEMBERS,
  SHARD_TARGET_MEMBERS,
  shardDigest,
  shardIndex,
  shardSnapshot,
} from './snapshot-shards.ts';
export type { SseEvent } from './sse.ts';
export { encodeSseEvent, isSseDone, SSE_DONE, SseParser } from './sse.ts';
export { runInSlices, runToEnd, SLICE_MS, type SliceOptions } from './steps.ts';
export type { U64 } from './u64.ts';
export { compareU64, u64FromHex, u64ToHex } from './u64.ts';
export type { VllmRouterKind } from './vllm-router-key.ts';
export {
  completionPromptText,
  textKey,
  VLLM_ROUTER_KEY_HEADERS,
  VLLM_ROUTER_KINDS,
  VLLM_ROUTER_TEXT_KEY_MAX_BYTES,
  vllmRouterKey,
} from './vllm-router-key.ts';
