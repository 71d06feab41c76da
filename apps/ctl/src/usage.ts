import { helpText, UsageError } from '@pdrouter/cli';
import { CTL_FLAGS } from './flags.ts';

/** Wrong command-line use: printed with a hint to --help, exit status 2. */
export { UsageError };

const COMMANDS = `pdrouterctl: inspect pdrouter's vllm-router-compatible consistent-hash ring.

Usage:
  pdrouterctl hash KEY
      Print fbiHash(KEY) as 16 hex digits (the ring position vllm-router gives KEY).

  pdrouterctl route (--member URL ... | --snapshot FILE [--role ROLE]) [--vnodes N]
                    (--key KEY ... | --keys-file FILE)
      Print one JSON object per key, in input order: {"key","owner","hash"}.
      FILE holds one JSON-encoded string per line.

  pdrouterctl explain --body FILE|JSON|- [--header "Name: value" ...]
                      (--snapshot FILE | --prefill URL ... --decode URL ...)
                      [--hash-key-mode vllm-router|affinity] [--prefix-bytes N] [--vnodes N]
      Print the hash key of a request, and the prefill and decode pods it would get with their
      failover order, computed as the proxy computes them.
      [--policy consistent_hash|bounded_load|rendezvous_hash|cache_aware|load_aware]
      [--served URL=FILE|JSON ...] [--in-flight URL=N ...] [--pod-signals URL=WAITING,RUNNING[,KV] ...]
      [--cache-threshold F ...] [--bounded-load-factor F]
      With --policy: the policy's winner, its failover order and why; for cache_aware and load_aware
      each pod's prefix, load and ring scores. There is no live index or load here: the prefix index
      holds only the --served bodies, the load only what is given. round_robin, random and
      power_of_two are refused (their pick does not depend on the request).
`;

export const USAGE = helpText([COMMANDS], [{ title: 'Options:', flags: CTL_FLAGS }]);
