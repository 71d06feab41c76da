// --service-discovery and its flags (vllm-router's names and meaning): which pods the proxy watches itself.
import { UsageError } from '@pdrouter/cli';
import type { ProxyFlagValues } from './flags.ts';

export interface KubernetesMembership {
  readonly kind: 'kubernetes';
  /** undefined: every namespace (vllm-router's default). */
  readonly namespace?: string;
  /** --service-discovery-port: vLLM's port in the pods, unless a pod's port annotation says otherwise. */
  readonly port: number;
  /** Kubernetes label selectors (`k=v,k2=v2`) per role: prefill + decode in P/D mode, plain otherwise. */
  readonly selectors: { readonly prefill?: string; readonly decode?: string; readonly plain?: string };
}

/** The pod annotation that overrides --service-discovery-port (apps/discovery's default --port-annotation). */
export const DISCOVERY_PORT_ANNOTATION = 'vllm.ai/port';
/** vllm-router's bootstrap_port_annotation. */
export const DISCOVERY_BOOTSTRAP_PORT_ANNOTATION = 'vllm.ai/bootstrap-port';

// Label keys are [prefix/]name, values may be empty (Kubernetes' label syntax); anything else would change
// the meaning of the selector sent to the API server, so it is refused rather than passed through.
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/**
 * vllm-router's selector: `key=value` items, all of which a pod's labels must carry. vllm-router drops an
 * item without `=` silently (and a later duplicate key wins); here a malformed item is a usage error.
 */
export function labelSelectorOf(flag: string, items: readonly string[]): string | undefined {
  if (items.length === 0) return undefined;
  const labels = new Map<string, string>();
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? '' : item.slice(0, eq);
    const value = eq < 0 ? '' : item.slice(eq + 1);
    if (eq < 0 || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) {
      throw new UsageError(`--${flag}: ${JSON.stringify(item)} is not KEY=VALUE with a Kubernetes label key and value`);
    }
    labels.set(key, value);
  }
  return [...labels].map(([k, v]) => `${k}=${v}`).join(',');
}

/**
 * The discovery settings, or undefined without --service-discovery. The selector flags need it, and
 * each mode takes its own selectors: a flag that would be ignored is refused instead.
 */
export function kubernetesMembershipOf(v: ProxyFlagValues, mode: 'pd' | 'plain'): KubernetesMembership | undefined {
  const selector = labelSelectorOf('selector', v.selector ?? []);
  const prefill = labelSelectorOf('prefill-selector', v['prefill-selector'] ?? []);
  const decode = labelSelectorOf('decode-selector', v['decode-selector'] ?? []);
  if (v['service-discovery'] !== true) {
    const given = [
      ['selector', selector],
      ['prefill-selector', prefill],
      ['decode-selector', decode],
      ['service-discovery-namespace', v['service-discovery-namespace']],
    ].find(([, value]) => value !== undefined);
    if (given !== undefined) throw new UsageError(`--${given[0]} needs --service-discovery`);
    return undefined;
  }
  const port = v['service-discovery-port'];
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`--service-discovery-port must be 1-65535, got ${port}`);
  const namespace = v['service-discovery-namespace'];
  if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
    throw new UsageError(`--service-discovery-namespace: ${JSON.stringify(namespace)} is not a namespace name`);
  }
  const base = { kind: 'kubernetes' as const, port, ...(namespace === undefined ? {} : { namespace }) };
  if (mode === 'pd') {
    if (selector !== undefined)
      throw new UsageError('--selector is for plain mode; P/D mode takes --prefill-selector and --decode-selector');
    if (prefill === undefined || decode === undefined)
      throw new UsageError('--service-discovery in P/D mode needs both --prefill-selector and --decode-selector');
    return Object.freeze({ ...base, selectors: Object.freeze({ prefill, decode }) });
  }
  if (prefill !== undefined || decode !== undefined)
    throw new UsageError('--prefill-selector/--decode-selector need --pd-disaggregation (or --vllm-pd-disaggregation)');
  if (selector === undefined) throw new UsageError('--service-discovery in plain mode needs --selector KEY=VALUE...');
  return Object.freeze({ ...base, selectors: Object.freeze({ plain: selector }) });
}
