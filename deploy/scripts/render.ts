// Renders a kustomization with the pinned renderer. Usage: node deploy/scripts/render.ts deploy/k8s/overlays/seed
import { ensureRenderer } from '../src/renderer/install.ts';
import { renderYaml } from '../src/renderer/render.ts';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node deploy/scripts/render.ts <kustomization dir>\n');
  process.exit(2);
}
process.stdout.write(await renderYaml(await ensureRenderer(), dir));
