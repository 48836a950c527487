import { defineConfig } from 'vitest/config';

// One root run over every workspace package's own vitest project.
export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*', 'docs', 'tools/crash-harness'],
  },
});
