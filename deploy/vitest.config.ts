import { defineConfig, mergeConfig } from 'vitest/config';
import { testConfig } from '../vitest.shared.ts';

export default mergeConfig(
  defineConfig(testConfig(import.meta.dirname)),
  // Fetches the pinned kustomize renderer once before any test renders a manifest.
  defineConfig({ test: { globalSetup: ['test/global-setup.ts'] } }),
);
