import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

/**
 * The vitest project config every package uses: its tests in `test/`, generous timeouts for
 * training tests on 2 cores, and tfjs-core's ES module sources loaded by Node directly instead of
 * being transformed by vite (the gradient registrations pull in ~700 of them; transforming them
 * costs seconds per test file).
 */
export function packageTestProject(name: string, options: { setupFiles?: string[] } = {}): UserWorkspaceConfig {
  return defineProject({
    test: {
      name,
      include: ['test/**/*.test.ts'],
      testTimeout: 180_000,
      hookTimeout: 180_000,
      server: { deps: { external: [/tfjs-core\/dist\//] } },
      ...(options.setupFiles !== undefined ? { setupFiles: options.setupFiles } : {}),
    },
  });
}
