import { badRequest } from './status.ts';
import type { KubeObject } from './types.ts';

/**
 * Label and field selectors with the API server's grammar and semantics
 * (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors):
 * `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>n`, `k<n`, comma-joined (AND).
 * `!=` and `notin` also match objects without the label, as on a real cluster.
 */

export type ObjectPredicate = (obj: KubeObject) => boolean;

type LabelRequirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string }
  | { op: 'gt' | 'lt'; key: string; value: number };

const KEY = '[A-Za-z0-9](?:[-A-Za-z0-9_./]*[A-Za-z0-9])?';
const VALUE = '(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?';
const SET_RE = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`);
const CMP_RE = new RegExp(`^(${KEY})\\s*(==|!=|=|>|<)\\s*(${VALUE})$`);
const EXISTS_RE = new RegExp(`^(!?)\\s*(${KEY})$`);
const VALUE_RE = new RegExp(`^${VALUE}$`);

export function parseLabelSelector(selector: string): ObjectPredicate {
  const requirements = splitTopLevel(selector).map(parseLabelRequirement);
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    return requirements.every((r) => matchesLabel(r, labels));
  };
}

function parseLabelRequirement(text: string): LabelRequirement {
  const set = SET_RE.exec(text);
  if (set) {
    const values = (set[3] ?? '').split(',').map((v) => v.trim());
    if (values.some((v) => !VALUE_RE.test(v))) throw invalidSelector(text, 'invalid value in set');
    return { op: set[2] === 'in' ? 'in' : 'notin', key: set[1] ?? '', values };
  }
  const cmp = CMP_RE.exec(text);
  if (cmp) {
    const key = cmp[1] ?? '';
    const value = cmp[3] ?? '';
    if (cmp[2] === '>' || cmp[2] === '<') {
      const n = Number(value);
      if (!Number.isInteger(n)) throw invalidSelector(text, 'for > and < the value must be an integer');
      return { op: cmp[2] === '>' ? 'gt' : 'lt', key, value: n };
    }
    return { op: cmp[2] === '!=' ? 'neq' : 'eq', key, value };
  }
  const exists = EXISTS_RE.exec(text);
  if (exists) return { op: exists[1] === '!' ? 'notexists' : 'exists', key: exists[2] ?? '' };
  throw invalidSelector(text, 'expected key, !key, key=value, key!=value, key in (...) or key notin (...)');
}

function matchesLabel(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.op) {
    case 'eq':
      return has && value === r.value;
    case 'neq':
      return !has || value !== r.value;
    case 'in':
      return has && r.values.includes(value ?? '');
    case 'notin':
      return !has || !r.values.includes(value ?? '');
    case 'exists':
      return has;
    case 'notexists':
      return !has;
    case 'gt':
    case 'lt': {
      const n = Number(value);
      if (!has || !Number.isInteger(n)) return false;
      return r.op === 'gt' ? n > r.value : n < r.value;
    }
  }
}

/** Field selectors: `path=v`, `path==v`, `path!=v` on the fields the resource supports. */
export function parseFieldSelector(selector: string, supportedFields: readonly string[]): ObjectPredicate {
  const requirements = splitTopLevel(selector).map((text) => {
    const m = /^([A-Za-z0-9.]+)\s*(==|!=|=)\s*(.*)$/.exec(text);
    if (!m) throw badRequest(`unable to parse requirement: found '${text}', expected: '=', '!=', '==', 'in', notin'`);
    const field = m[1] ?? '';
    if (!supportedFields.includes(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, negate: m[2] === '!=', value: (m[3] ?? '').trim() };
  });
  return (obj) => requirements.every((r) => (fieldValue(obj, r.field) === r.value) !== r.negate);
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null) return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'string' ? cur : String(cur);
}

/** Splits on commas outside parentheses, dropping empty parts (an empty selector selects everything). */
function splitTopLevel(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function invalidSelector(text: string, why: string) {
  return badRequest(`unable to parse requirement '${text}': ${why}`);
}
