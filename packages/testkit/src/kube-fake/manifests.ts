import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

/**
 * The objects of Kubernetes YAML files (multi-document, `---` separated), e.g. deploy/'s Role and
 * RoleBinding for KubeApiFakeOptions.rbac. A document that does not parse is an error naming the file.
 */
export function readManifests(...paths: string[]): unknown[] {
  return paths.flatMap((path) =>
    parseAllDocuments(readFileSync(path, 'utf8')).flatMap((doc) => {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]?.message}`);
      const obj: unknown = doc.toJS();
      return obj === null || obj === undefined ? [] : [obj];
    }),
  );
}
