// One text value of a flag (from argv or the environment) to its typed value, or a UsageError naming the flag.
import type { FlagSpec } from './spec.ts';
import { UsageError } from './usage-error.ts';

const TRUE = /^(true|1|yes)$/i;
const FALSE = /^(false|0|no)$/i;

/** The value as it may appear in an error message: secrets are never echoed. */
export function shown(spec: FlagSpec, raw: string): string {
  return spec.secret ? '(hidden)' : JSON.stringify(raw);
}

export function convertBool(spec: FlagSpec, raw: string): boolean {
  if (TRUE.test(raw)) return true;
  if (FALSE.test(raw)) return false;
  throw new UsageError(`--${spec.name} expects true or false, got ${shown(spec, raw)}`);
}

function convertNumber(spec: FlagSpec & { type: 'int' | 'number' }, raw: string): number {
  const n = Number(raw);
  if (spec.type === 'int' ? !/^-?\d+$/.test(raw) : raw.trim() === '' || !Number.isFinite(n)) {
    throw new UsageError(
      `--${spec.name} expects ${spec.type === 'int' ? 'an integer' : 'a number'}, got ${shown(spec, raw)}`,
    );
  }
  if (spec.min !== undefined && n < spec.min) throw new UsageError(`--${spec.name} must be >= ${spec.min}, got ${n}`);
  if (spec.max !== undefined && n > spec.max) throw new UsageError(`--${spec.name} must be <= ${spec.max}, got ${n}`);
  return n;
}

/** A single value (not a list, not `--flag URL [PORT]`). */
export function convertOne(spec: FlagSpec, raw: string): string | number | boolean {
  switch (spec.type) {
    case 'bool':
      return convertBool(spec, raw);
    case 'int':
    case 'number':
      return convertNumber(spec, raw);
    case 'enum': {
      const refusal = Object.hasOwn(spec.refusedChoices ?? {}, raw) ? spec.refusedChoices?.[raw] : undefined;
      if (refusal !== undefined) throw new UsageError(`--${spec.name} ${raw} is refused: ${refusal}`);
      if (!spec.choices.includes(raw)) {
        throw new UsageError(`--${spec.name} must be one of ${spec.choices.join(', ')}; got ${shown(spec, raw)}`);
      }
      return raw;
    }
    default:
      if (raw === '') throw new UsageError(`--${spec.name} may not be empty`);
      return raw;
  }
}

/** A comma-separated list (an environment variable, or `--list=a,b`): items trimmed, empty ones dropped. */
export function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A port after `--flag URL`: 1-65535, or undefined when the text is not one. */
export function portOf(raw: string): number | undefined {
  if (!/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return n > 0 && n < 65536 ? n : undefined;
}
