import { ensureRenderer } from '../src/renderer/install.ts';

export default async function setup(): Promise<void> {
  await ensureRenderer();
}
