import { describe, expect, it } from 'vitest';
import { mpiAddonStatus } from '../src/index.js';
import { cleanEnv, mpirunMissing, requireBuilt, runJob } from './mpi-launch.js';

// What a task started by `srun` sees: SLURM_STEP_ID, SLURM_PROCID, SLURM_NTASKS (and
// SLURM_STEP_NUM_TASKS), SLURM_LOCALID. No SLURM here, so MPI itself cannot reach srun's PMIx
// server: a task announced as rank 0 of 1 becomes a singleton MPI world that agrees with SLURM,
// and a task announced as rank 1 of 2 must be refused (E_BACKEND naming --mpi=pmix) instead of
// training alone. This runs the real MPI initialisation with those variables (the recipe
// docs/recipes/clip-train-slurm.sh relies on it); the parsing itself is unit-tested in
// process-group.test.ts.

const missing = mpirunMissing() ?? (mpiAddonStatus().available ? undefined : 'the MPI binding is not built');
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
if (missing !== undefined && !inCi) console.warn(`slurm-env.test: SKIPPED — ${missing}`);

async function probe(env: Record<string, string>): Promise<Record<string, unknown>> {
  requireBuilt();
  const job = await runJob(process.execPath, ['test/fixtures/init-probe.mjs'], 60_000, cleanEnv(env));
  expect(job.code, job.output).toBe(0);
  const line = job.output.split('\n').find((l) => l.startsWith('{'));
  expect(line, job.output).toBeDefined();
  return JSON.parse(line as string) as Record<string, unknown>;
}

describe.skipIf(missing !== undefined && !inCi)('initDistributed under srun variables (real MPI initialisation)', () => {
  it('reads rank, world size and local rank from SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID', async () => {
    const group = await probe({ SLURM_JOB_ID: '17', SLURM_STEP_ID: '0', SLURM_PROCID: '0', SLURM_NTASKS: '1', SLURM_LOCALID: '0' });
    expect(group).toMatchObject({ launcher: 'slurm', backend: 'mpi', rank: 0, worldSize: 1, localRank: 0, isRoot: true });
  });

  it('refuses a task whose MPI world disagrees with SLURM (srun without --mpi=pmix)', async () => {
    const refused = await probe({ SLURM_JOB_ID: '17', SLURM_STEP_ID: '0', SLURM_PROCID: '1', SLURM_NTASKS: '4', SLURM_STEP_NUM_TASKS: '2', SLURM_LOCALID: '1' });
    expect(refused.code).toBe('E_BACKEND');
    expect(refused.message).toMatch(/announced rank 1 of 2, but MPI sees rank 0 of 1/);
    expect(refused.message).toMatch(/--mpi=pmix/);
  });

  it('treats the batch script itself (no job step) as a world of one without MPI', async () => {
    const group = await probe({ SLURM_JOB_ID: '17', SLURM_PROCID: '0', SLURM_NTASKS: '8', SLURM_LOCALID: '0' });
    expect(group).toMatchObject({ launcher: 'none', backend: 'single', worldSize: 1 });
  });
});
