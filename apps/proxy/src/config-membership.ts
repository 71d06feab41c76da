// Where the proxy's members come from, from the flags: static URLs (--prefill/--decode or --worker-urls), a
// snapshot file, NATS, or the proxy's own Kubernetes watch (--service-discovery); exactly one of them.
import { UsageError } from '@pdrouter/cli';
import { type KubernetesMembership, kubernetesMembershipOf } from './config-discovery.ts';
import type { ProxyFlagValues } from './flags.ts';

/** A prefill pod from the command line: its URL and, when given, its KV-transfer bootstrap port. */
export interface PrefillArg {
  readonly url: string;
  readonly bootstrapPort?: number;
}

export type MembershipConfig =
  | {
      readonly kind: 'static';
      readonly prefill: readonly PrefillArg[];
      readonly decode: readonly string[];
      readonly plain: readonly string[];
    }
  | { readonly kind: 'file'; readonly path: string }
  | {
      readonly kind: 'nats';
      readonly url: string;
      readonly credsFile?: string;
      readonly bucket: string;
      readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string };
    }
  | KubernetesMembership;

function validUrl(flag: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${flag}: ${JSON.stringify(raw)} is not a URL (expected http://host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${flag}: ${JSON.stringify(raw)} must be an http:// or https:// URL`);
  }
  // Pods are identified (ring, metrics) by scheme://host:port, as vllm-router does; a path would not
  // survive that, so it is refused rather than dropped.
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    throw new UsageError(
      `${flag}: ${JSON.stringify(raw)} must be scheme://host[:port] with no path, query or credentials`,
    );
  }
  return url.origin;
}

/** NATS credentials and TLS files from the flags; a client certificate needs its key and the other way round. */
function natsAuth(v: ProxyFlagValues): {
  credsFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
} {
  const caFile = v['nats-tls-ca'];
  const certFile = v['nats-tls-cert'];
  const keyFile = v['nats-tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new UsageError('--nats-tls-cert and --nats-tls-key go together');
  const tls = {
    ...(caFile !== undefined ? { caFile } : {}),
    ...(certFile !== undefined ? { certFile } : {}),
    ...(keyFile !== undefined ? { keyFile } : {}),
  };
  return {
    ...(v['nats-creds'] ? { credsFile: v['nats-creds'] } : {}),
    ...(Object.keys(tls).length > 0 ? { tls } : {}),
  };
}

export function membershipOf(v: ProxyFlagValues, mode: 'pd' | 'plain'): MembershipConfig {
  const prefill = v.prefill.map(
    ({ url, port }): PrefillArg => ({
      url: validUrl('--prefill', url),
      ...(port === undefined ? {} : { bootstrapPort: port }),
    }),
  );
  const decode = v.decode.map((u) => validUrl('--decode', u));
  const plain = v['worker-urls'].map((u) => validUrl('--worker-urls', u));
  const snapshotFile = v['snapshot-file'];
  const natsUrl = v['nats-url'];
  const staticGiven = prefill.length + decode.length + plain.length > 0;

  const noStaticMembers = (flag: string) => {
    if (staticGiven) throw new UsageError(`--${flag} supplies the members: drop --prefill/--decode/--worker-urls`);
  };
  const kubernetes = kubernetesMembershipOf(v, mode);
  if (kubernetes !== undefined) {
    if (snapshotFile !== undefined || natsUrl !== undefined)
      throw new UsageError('--service-discovery supplies the members: drop --snapshot-file/--nats-url');
    noStaticMembers('service-discovery');
    return kubernetes;
  }
  if (snapshotFile !== undefined && natsUrl !== undefined) {
    throw new UsageError('use either --snapshot-file or --nats-url, not both');
  } else if (natsUrl !== undefined) {
    noStaticMembers('nats-url');
    return { kind: 'nats', url: natsUrl, bucket: v.bucket, ...natsAuth(v) };
  } else if (snapshotFile !== undefined) {
    noStaticMembers('snapshot-file');
    return { kind: 'file', path: snapshotFile };
  } else if (mode === 'pd') {
    if (prefill.length === 0 || decode.length === 0) {
      throw new UsageError(
        'P/D mode needs at least one --prefill URL and one --decode URL (or --snapshot-file / --nats-url)',
      );
    }
    if (plain.length > 0)
      throw new UsageError('--worker-urls is for plain mode; P/D mode takes --prefill and --decode');
    return { kind: 'static', prefill, decode, plain: [] };
  } else {
    if (plain.length === 0) {
      if (prefill.length + decode.length > 0)
        throw new UsageError('--prefill/--decode need --pd-disaggregation (or --vllm-pd-disaggregation)');
      throw new UsageError(
        'no pods given: use --pd-disaggregation with --prefill/--decode, or --worker-urls (see --help)',
      );
    }
    return { kind: 'static', prefill: [], decode: [], plain };
  }
}
