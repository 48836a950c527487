// Launching test fixtures under `mpirun`, with @llm2clip/distributed's testing helpers.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launcherFreeEnv, mpiUnavailable, runJob as runJobIn, type JobResult } from '@llm2clip/distributed/testing';

export { IN_CI, MPIRUN_FLAGS, describeJob, type JobResult } from '@llm2clip/distributed/testing';

/** The package directory (fixtures run from here). */
export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** Why world-size-2 tests cannot run here (no mpirun, or the MPI binding is not built), else undefined. */
export function mpiMissing(): string | undefined {
  return mpiUnavailable({ addon: true });
}

/** Throws unless `pnpm build` produced the dist the fixtures import. */
export function requireBuilt(): void {
  if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
    throw new Error('packages/clip-trainer/dist is missing: run `pnpm --filter @llm2clip/clip-trainer build` first');
  }
}

/** The environment of a child that must not look like it runs under a launcher itself. */
export const cleanEnv = launcherFreeEnv;

/** Runs `command args` in `cwd` (default: the package), killing its whole process group after `timeoutMs`. */
export function runJob(command: string, args: string[], timeoutMs: number, env: NodeJS.ProcessEnv = cleanEnv(), cwd = packageDir): Promise<JobResult> {
  return runJobIn(command, args, { timeoutMs, env, cwd });
}
