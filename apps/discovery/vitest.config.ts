import { defineConfig } from 'vitest/config';
import { testConfig } from '../../vitest.shared.ts';

const shared = testConfig(import.meta.dirname);

// The end-to-end suites each run a whole deployment of child processes: one file at a time, so they
// do not fight over the two cores.
export default defineConfig({ ...shared, test: { ...shared.test, fileParallelism: false } });
