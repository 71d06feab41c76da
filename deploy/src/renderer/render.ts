import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

/** Rendering one kustomization takes well under a second; the margin is for a loaded 2-core machine. */
export const KUSTOMIZE_TIMEOUT_MS = 60_000;

/** A rendered Kubernetes object, loosely typed: tests read fields by path and assert on them. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

/** `kubectl kustomize DIR` with the given binary: the YAML text exactly as the renderer printed it. */
export async function renderYaml(kubectl: string, kustomizationDir: string): Promise<string> {
  const { stdout } = await run(kubectl, ['kustomize', kustomizationDir], {
    timeout: KUSTOMIZE_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Parses a multi-document YAML stream into objects, failing on any YAML error. */
export function parseObjects(yamlText: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(yamlText)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(value as K8sObject);
  }
  return objects;
}

export async function render(kubectl: string, kustomizationDir: string): Promise<K8sObject[]> {
  return parseObjects(await renderYaml(kubectl, kustomizationDir));
}
