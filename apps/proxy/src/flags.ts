// The proxy's command line: vllm-router's flags (flags/vllm-router*.ts, its names and grammar) and ours
// (flags/pdrouter.ts) in one table. The parser, `--help` and docs/configuration.md are all built from it.
import { type FlagSpec, flagParser, type ParsedFlags as Parsed, helpText as renderHelp, statusOf } from '@pdrouter/cli';
import { PDROUTER_FLAGS } from './flags/pdrouter.ts';
import { VLLM_ROUTER_FLAGS } from './flags/vllm-router.ts';
import { VLLM_ROUTER_RESILIENCE_FLAGS } from './flags/vllm-router-resilience.ts';

export { POLICIES, REFUSED_POLICIES } from './flags/vllm-router.ts';

const VLLM_ROUTER = [...VLLM_ROUTER_FLAGS, ...VLLM_ROUTER_RESILIENCE_FLAGS] as const;
export const PROXY_FLAGS = [...VLLM_ROUTER, ...PDROUTER_FLAGS] as const;

export type ParsedFlags = Parsed<typeof PROXY_FLAGS>;
export type ProxyFlagValues = ParsedFlags['values'];

const parser = flagParser(PROXY_FLAGS);

/** Parses argv (without node and script) and the environment. Throws UsageError with a message for the user. */
export function parseFlags(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ParsedFlags {
  return parser.parse(argv, env);
}

const implemented = (flags: readonly FlagSpec[]) => flags.filter((f) => statusOf(f) === 'implemented');

/** The proxy's flags by kind, in table order: what `--help` and the reference list under separate headings. */
export const PROXY_FLAG_GROUPS = Object.freeze({
  vllmRouter: implemented(VLLM_ROUTER),
  pdrouter: implemented(PDROUTER_FLAGS),
  refused: PROXY_FLAGS.filter((f) => statusOf(f) === 'refused'),
});

/** `--help`, built from PROXY_FLAGS. */
export function helpText(): string {
  return renderHelp(
    [
      'pdrouter proxy: routes OpenAI-compatible requests to vLLM prefill/decode pods on a consistent-hash ring.',
      '',
      'Usage:',
      '  node apps/proxy/src/main.ts --pd-disaggregation --prefill URL [PORT|none] ... --decode URL ... [flags]',
      '  node apps/proxy/src/main.ts --worker-urls URL... [flags]',
      '  node apps/proxy/src/main.ts --pd-disaggregation --snapshot-file FILE [flags]',
      '',
    ],
    [
      { title: 'Flags (vllm-router compatible):', flags: PROXY_FLAG_GROUPS.vllmRouter },
      { title: 'Flags (pdrouter):', flags: PROXY_FLAG_GROUPS.pdrouter },
      { title: 'vllm-router flags that are refused (giving one is an error):', flags: PROXY_FLAG_GROUPS.refused },
    ],
  );
}
