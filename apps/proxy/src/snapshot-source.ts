// The membership seam: where the proxy's pod set comes from. Every source hands over whole snapshots
// (core's schema); the proxy validates and orders them itself (RouterState.apply) whatever the source.
import type { Snapshot } from '@pdrouter/core';
import { snapshotFromUrls } from '@pdrouter/core';
import type { PrefillArg } from './flags.ts';

export interface SnapshotSource {
  /** For logs and /admin/state, e.g. "static flags" or "file /etc/pdrouter/pods.json". */
  readonly description: string;
  /**
   * Starts delivering snapshots: `apply` for each candidate snapshot (the current one first), `reject`
   * when the source saw something it could not turn into a snapshot (unreadable file, bad JSON...).
   * Resolves once the first attempt was made (a source that cannot reach its backend still resolves,
   * and keeps trying).
   */
  start(apply: (s: Snapshot) => void, reject: (reason: string) => void): Promise<void>;
  close(): Promise<void>;
}

/** Members from --prefill/--decode/--worker-urls: one snapshot, epoch 0 seq 0. */
export function staticSnapshotSource(options: {
  pool: string;
  prefill: readonly PrefillArg[];
  decode: readonly string[];
  plain: readonly string[];
}): SnapshotSource {
  return {
    description: 'static flags',
    async start(apply) {
      apply(
        snapshotFromUrls({
          pool: options.pool,
          prefill: options.prefill.map((p) =>
            p.bootstrapPort === undefined ? { url: p.url } : { url: p.url, bootstrapPort: p.bootstrapPort },
          ),
          decode: [...options.decode],
          plain: [...options.plain],
        }),
      );
    },
    async close() {},
  };
}
