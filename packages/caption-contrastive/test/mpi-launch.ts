// Launching the stage-1 fixtures under `mpirun`, with @llm2clip/distributed's testing helpers.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IN_CI, launcherFreeEnv, mpiUnavailable, runJob as runJobIn, type JobResult } from '@llm2clip/distributed/testing';

export { MPIRUN_FLAGS, describeJob, type JobResult } from '@llm2clip/distributed/testing';

/** The package directory (fixture scripts run from here). */
export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** Why mpirun tests cannot run here, or undefined when `mpirun` is on PATH. */
export function mpirunMissing(): string | undefined {
  const why = mpiUnavailable();
  return why === undefined ? undefined : `${why}; the world-size-2 tests are skipped`;
}

/** True under CI (where a missing mpirun is a failure, not a skip). */
export const inCi = IN_CI;

/** Throws unless `pnpm build` produced the dist the fixture script imports. */
export function requireBuilt(): void {
  if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
    throw new Error('packages/caption-contrastive/dist is missing: run `pnpm --filter @llm2clip/caption-contrastive build` first');
  }
}

/** Runs `command args` from the package directory, killing its process group after `timeoutMs`. */
export function runJob(command: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv): Promise<JobResult> {
  return runJobIn(command, args, { timeoutMs, env, cwd: packageDir });
}

/** The environment of a child that must not look like it runs under a launcher itself. */
export const cleanEnv = launcherFreeEnv;
