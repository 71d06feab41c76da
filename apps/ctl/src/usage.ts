/** Wrong command-line use: printed with a hint to --help, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `pdrouterctl: inspect pdrouter's vllm-router-compatible consistent-hash ring.

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

Options:
  --member URL          A ring member (repeat for each).
  --snapshot FILE       Members from a snapshot file (only ready members join the ring).
                        nats://HOST:PORT[/POOL] reads the pool's current snapshot (--pool, --nats-creds).
  --role ROLE           prefill, decode or plain: which snapshot role "route" uses (default prefill).
  --vnodes N            Virtual nodes per member (default 160, vllm-router's). Alias --virtual-nodes.
  --key KEY             A key to route (repeat for each).
  --keys-file FILE      Keys to route, one JSON string per line.
  --body FILE|JSON|-    The request body: a file, inline JSON ("{...}") or - for standard input.
  --header, -H "N: V"   A request header (repeat for each).
  --prefill URL         A prefill member when no snapshot is given (repeat for each).
  --decode URL          A decode member when no snapshot is given (repeat for each).
  --hash-key-mode MODE  vllm-router (default, vllm-router's keys) or affinity (ignores per-request ids).
  --prefix-bytes N      affinity mode: prompt prefix length in UTF-8 bytes. Alias --hash-prefix-bytes.
  --pool NAME           Pool to read from NATS (default "default").
  --nats-creds FILE     NATS credentials file.
  -h, --help            Show this help.
`;
