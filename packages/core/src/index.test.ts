import { expect, test } from 'vitest';
import { CORE_READY } from './index.ts';

test('core loads', () => {
  expect(CORE_READY).toBe(true);
});
