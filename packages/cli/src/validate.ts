// A flag table is checked once, when its parser is built: a mistake in the table is a bug, found by the
// first test that loads it rather than by an operator.
import type { FlagSpec } from './spec.ts';

export function validateTable(specs: readonly FlagSpec[]): void {
  const seen = new Set<string>();
  const envs = new Set<string>();
  for (const spec of specs) {
    for (const name of [spec.name, ...(spec.aliases ?? [])]) {
      if (!/^[a-zA-Z][a-zA-Z0-9-]*$/.test(name)) throw new Error(`flag table: bad flag name ${JSON.stringify(name)}`);
      if (seen.has(name)) throw new Error(`flag table: --${name} declared twice`);
      seen.add(name);
    }
    if (spec.env !== undefined) {
      if (envs.has(spec.env)) throw new Error(`flag table: ${spec.env} read by two flags`);
      envs.add(spec.env);
    }
    if (spec.type === 'enum' && spec.default !== undefined && !spec.choices.includes(spec.default)) {
      throw new Error(`flag table: --${spec.name} default ${spec.default} is not one of its choices`);
    }
    if (spec.type === 'enum') {
      for (const [value, reason] of Object.entries(spec.refusedChoices ?? {})) {
        if (spec.choices.includes(value))
          throw new Error(`flag table: --${spec.name} ${value} is a choice and refused`);
        if (reason.trim() === '') throw new Error(`flag table: --${spec.name} ${value} is refused without a reason`);
      }
    }
    if (typeof spec.status === 'object' && spec.status.refused.trim() === '') {
      throw new Error(`flag table: --${spec.name} is refused without a reason`);
    }
  }
}
