// The world-size-2 tests of this package launch fixtures with the package's own `testing` entry.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launcherFreeEnv, mpiUnavailable, runJob as runJobIn, type JobResult } from '../src/testing.js';

export { MPIRUN_FLAGS, describeJob, type JobResult } from '../src/testing.js';

/** The package directory (scripts run from here). */
export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** Why mpirun tests cannot run here, or undefined when `mpirun` is on PATH. */
export function mpirunMissing(): string | undefined {
  const why = mpiUnavailable();
  return why === undefined ? undefined : `${why}; the world-size-2 tests are skipped`;
}

/** Throws unless `pnpm build` produced the dist the fixtures import. */
export function requireBuilt(): void {
  if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
    throw new Error('packages/distributed/dist is missing: run `pnpm --filter @llm2clip/distributed build` first');
  }
}

/** Runs `command args` from the package directory, killing its process group after `timeoutMs`. */
export function runJob(command: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<JobResult> {
  return runJobIn(command, args, { timeoutMs, env, cwd: packageDir });
}

/** The environment of a child that must not look like it runs under a launcher itself. */
export const cleanEnv = launcherFreeEnv;
