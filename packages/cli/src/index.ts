export { convertOne, splitList } from './convert.ts';
export { defaultText, flagTable, type HelpSection, helpText, refusedChoicesTable, usageOf } from './help.ts';
export { cell, code, table } from './markdown.ts';
export { type Env, type FlagParser, flagParser, type ParsedFlags, type ParserOptions } from './parse.ts';
export { HELP_FLAG, parseScriptFlags, type ScriptCommandLine, scriptHelpText } from './script-flags.ts';
export {
  type BoolFlag,
  type EnumFlag,
  type FlagName,
  type FlagSpec,
  type FlagStatus,
  type FlagType,
  type FlagValues,
  type ListFlag,
  type NumberFlag,
  refusalOf,
  type StringFlag,
  statusOf,
  type UrlPort,
  type UrlPortFlag,
  type ValueOf,
} from './spec.ts';
export { parseOrExit, USAGE_EXIT_CODE, UsageError, usageErrorText } from './usage-error.ts';
