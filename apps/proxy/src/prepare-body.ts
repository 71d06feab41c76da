// Everything the proxy computes from a client's body before the legs, as one pure function: parse and
// check it, drop the pod-only fields, compute the hash key, and (P/D) serialise the prefill leg's body.
// For a large body that is hundreds of milliseconds of CPU (JSON.parse, the routing text, JSON.stringify
// of the prompt): body-parser.ts runs it on a worker thread then, so the event loop keeps relaying streams.
import {
  buildPrefillBody,
  estimatePromptTokensOfChars,
  extractHashKey,
  fbiHash,
  type HashKeyMode,
  type PrefixKey,
  prefixKeyOfPieces,
  prefixRoutingPieces,
  type U64,
  type VllmRouterKind,
} from '@pdrouter/core';
import { bodyJson, type GenerationRoute, parseGenerationBody, withoutPodOnlyFields } from './request-body.ts';

export interface PrepareOptions {
  readonly route: GenerationRoute;
  /** Hash the key (the policy needs one): its mode and the client headers it may read. */
  readonly hashKey?: {
    readonly mode: HashKeyMode;
    readonly router?: VllmRouterKind;
    readonly prefixBytes?: number;
    readonly headers: Readonly<Record<string, string | undefined>>;
  };
  /** Serialise the prefill leg's body (P/D mode). */
  readonly prefill: boolean;
  /** Hash the routing text into prefix blocks and estimate its tokens (cache_aware, load_aware, selective P/D). */
  readonly prefix?: boolean;
}

export interface PreparedBody {
  /** The bytes the legs send (the client's as received unless a pod-only field was removed). */
  readonly raw: Buffer;
  readonly body: Record<string, unknown>;
  readonly hash: U64 | undefined;
  /** What was hashed (rendezvous_hash scores the pods with it). */
  readonly hashKey: string | undefined;
  readonly prefillBody: Buffer | undefined;
  readonly prefix?: PrefixKey;
  readonly promptTokens?: number;
}

/** Throws only RouterError (the client's body is at fault). */
export function prepareBody(received: Buffer, options: PrepareOptions): PreparedBody {
  const { raw, body } = withoutPodOnlyFields(received, parseGenerationBody(received, options.route));
  let hash: U64 | undefined;
  let hashKey: string | undefined;
  const hk = options.hashKey;
  if (hk !== undefined) {
    const key = extractHashKey((name) => hk.headers[name], body, {
      mode: hk.mode,
      ...(hk.router !== undefined ? { router: hk.router } : {}),
      ...(hk.prefixBytes !== undefined ? { prefixBytes: hk.prefixBytes } : {}),
    });
    hash = fbiHash(key);
    hashKey = key;
  }
  const prefillBody = options.prefill ? Buffer.from(bodyJson(buildPrefillBody(options.route, body))) : undefined;
  if (options.prefix !== true) return { raw, body, hash, hashKey, prefillBody };
  const pieces = prefixRoutingPieces(body);
  const routing = prefixKeyOfPieces(pieces ?? []);
  return {
    raw,
    body,
    hash,
    hashKey,
    prefillBody,
    prefix: routing.key,
    promptTokens: estimatePromptTokensOfChars(body, pieces === undefined ? undefined : routing.textChars),
  };
}
