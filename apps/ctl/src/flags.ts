// pdrouterctl's flags, declared once: the parser and the Options part of --help are built from CTL_FLAGS.
import type { FlagSpec } from '@pdrouter/cli';

export const CTL_FLAGS = [
  { name: 'member', type: 'repeat', valueName: 'URL', help: 'A ring member (repeat for each).' },
  {
    name: 'snapshot',
    type: 'string',
    valueName: 'FILE',
    help: "Members from a snapshot file (only ready members join the ring). nats://HOST:PORT[/POOL] reads the pool's current snapshot (--pool, --nats-creds).",
  },
  {
    name: 'role',
    type: 'string',
    valueName: 'ROLE',
    help: 'prefill, decode or plain: which snapshot role "route" uses (default prefill).',
  },
  {
    name: 'vnodes',
    aliases: ['virtual-nodes'],
    type: 'string',
    valueName: 'N',
    help: "Virtual nodes per member (default 160, vllm-router's).",
  },
  { name: 'key', type: 'repeat', valueName: 'KEY', help: 'A key to route (repeat for each).' },
  { name: 'keys-file', type: 'string', valueName: 'FILE', help: 'Keys to route, one JSON string per line.' },
  {
    name: 'body',
    type: 'string',
    valueName: 'FILE|JSON|-',
    help: 'The request body: a file, inline JSON ("{...}") or - for standard input.',
  },
  { name: 'header', aliases: ['H'], type: 'repeat', valueName: '"N: V"', help: 'A request header (repeat for each).' },
  {
    name: 'prefill',
    type: 'repeat',
    valueName: 'URL',
    help: 'A prefill member when no snapshot is given (repeat for each).',
  },
  {
    name: 'decode',
    type: 'repeat',
    valueName: 'URL',
    help: 'A decode member when no snapshot is given (repeat for each).',
  },
  {
    name: 'hash-key-mode',
    type: 'string',
    valueName: 'MODE',
    help: "vllm-router (default, vllm-router's keys) or affinity (ignores per-request ids).",
  },
  {
    name: 'prefix-bytes',
    aliases: ['hash-prefix-bytes'],
    type: 'string',
    valueName: 'N',
    help: 'affinity mode: prompt prefix length in UTF-8 bytes.',
  },
  { name: 'pool', type: 'string', valueName: 'NAME', help: 'Pool to read from NATS (default "default").' },
  { name: 'nats-creds', type: 'string', valueName: 'FILE', help: 'NATS credentials file.' },
  { name: 'help', aliases: ['h'], type: 'bool', help: 'Show this help.' },
] as const satisfies readonly FlagSpec[];
