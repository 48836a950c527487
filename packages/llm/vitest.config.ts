import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'llm',
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
