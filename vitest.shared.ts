import { join } from 'node:path';
import type { ViteUserConfig } from 'vitest/config';

/** Where each package's JSON report goes: inside the package, so turbo caches and restores it with the task. */
export const TEST_REPORT_PATH = join('.test-results', 'vitest.json');

/** The test settings every package shares: a JSON report per package for the closing summary line. */
export function testConfig(packageDir: string): ViteUserConfig {
  return {
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      reporters: ['default', ['json', { outputFile: join(packageDir, TEST_REPORT_PATH) }]],
      testTimeout: 20_000,
      hookTimeout: 30_000,
      teardownTimeout: 10_000,
    },
  };
}
