import { defineProject } from 'vitest/config';

// The docs project: runs every runnable code block of docs/guides/*.md (child processes against
// the built packages) and publint over every workspace package.
export default defineProject({
  test: {
    name: 'docs',
    include: ['test/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
