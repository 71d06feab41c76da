import { basename, join } from 'node:path';
import type { ViteUserConfig } from 'vitest/config';

/** The test settings every package shares: a JSON report per package for the closing summary line. */
export function testConfig(packageDir: string): ViteUserConfig {
  const root = join(import.meta.dirname);
  return {
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      reporters: ['default', ['json', { outputFile: join(root, '.test-results', `${basename(packageDir)}.json`) }]],
      testTimeout: 20_000,
      hookTimeout: 30_000,
      teardownTimeout: 10_000,
    },
  };
}
