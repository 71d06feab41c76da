// Unpacks the pinned kustomize renderer (kubectl v1.32, from the installed devDependency) into
// deploy/.renderer/ and prints its path. Usage: node deploy/scripts/ensure-renderer.ts
import { ensureRenderer, kubectlVersions } from '../src/renderer/install.ts';

const path = await ensureRenderer();
const versions = await kubectlVersions(path);
process.stdout.write(`${path} (kubectl ${versions.kubectl}, kustomize ${versions.kustomize})\n`);
