import { Llm2ClipError } from '@llm2clip/core';

/** Which launcher started this process, as read from its environment. */
export type LauncherName = 'openmpi' | 'slurm' | 'pmi' | 'none';

/** Rank layout a launcher announces in the environment of each process it starts. */
export interface LauncherInfo {
  /** The launcher: OpenMPI's `mpirun`/`prterun`, SLURM's `srun`, a PMI launcher (MPICH Hydra), or none. */
  launcher: LauncherName;
  /** Rank of this process in the world. */
  rank: number;
  /** Number of processes in the world. */
  worldSize: number;
  /** Rank of this process among those on the same node. */
  localRank: number;
  /** The environment variables the values were read from (for messages). */
  source: string;
}

function parseIndex(env: NodeJS.ProcessEnv, name: string, fallback?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new Llm2ClipError('E_CONFIG', `launcher variable ${name} is not set`, { field: name });
  }
  if (!/^\d+$/.test(raw.trim())) {
    throw new Llm2ClipError('E_CONFIG', `launcher variable ${name} must be a non-negative integer, got ${JSON.stringify(raw)}`, { field: name });
  }
  return Number.parseInt(raw, 10);
}

function layout(env: NodeJS.ProcessEnv, launcher: LauncherName, rankVar: string, sizeVar: string, localVar: string | undefined): LauncherInfo {
  const worldSize = parseIndex(env, sizeVar);
  const rank = parseIndex(env, rankVar);
  const localRank = localVar === undefined ? rank : parseIndex(env, localVar, rank);
  if (worldSize < 1 || rank >= worldSize) {
    throw new Llm2ClipError('E_CONFIG', `launcher says rank ${rank} of a world of ${worldSize} (${rankVar}, ${sizeVar})`, { field: rankVar });
  }
  return { launcher, rank, worldSize, localRank, source: [rankVar, sizeVar, localVar].filter((v) => v !== undefined).join(', ') };
}

/**
 * Reads the rank layout from the environment a launcher gives each process:
 *
 * - OpenMPI `mpirun` / `prterun`: `OMPI_COMM_WORLD_RANK`, `OMPI_COMM_WORLD_SIZE`, `OMPI_COMM_WORLD_LOCAL_RANK`;
 * - SLURM `srun` (a job step; the batch script itself is not a launcher): `SLURM_PROCID`,
 *   `SLURM_STEP_NUM_TASKS` (else `SLURM_NTASKS`), `SLURM_LOCALID` — only when `SLURM_STEP_ID` is set;
 * - PMI launchers (MPICH Hydra, Intel MPI, `srun --mpi=pmi2`): `PMI_RANK`, `PMI_SIZE`, `MPI_LOCALRANKID`;
 * - otherwise `{ launcher: 'none', rank: 0, worldSize: 1, localRank: 0 }`.
 *
 * Malformed values throw `E_CONFIG` naming the variable.
 */
export function detectLauncher(env: NodeJS.ProcessEnv = process.env): LauncherInfo {
  if (env.OMPI_COMM_WORLD_SIZE !== undefined) {
    return layout(env, 'openmpi', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_LOCAL_RANK');
  }
  if (env.SLURM_STEP_ID !== undefined && env.SLURM_PROCID !== undefined && (env.SLURM_STEP_NUM_TASKS ?? env.SLURM_NTASKS) !== undefined) {
    const sizeVar = env.SLURM_STEP_NUM_TASKS !== undefined ? 'SLURM_STEP_NUM_TASKS' : 'SLURM_NTASKS';
    return layout(env, 'slurm', 'SLURM_PROCID', sizeVar, 'SLURM_LOCALID');
  }
  if (env.PMI_SIZE !== undefined && env.PMI_RANK !== undefined) {
    return layout(env, 'pmi', 'PMI_RANK', 'PMI_SIZE', env.MPI_LOCALRANKID !== undefined ? 'MPI_LOCALRANKID' : undefined);
  }
  return { launcher: 'none', rank: 0, worldSize: 1, localRank: 0, source: 'no launcher variables' };
}
