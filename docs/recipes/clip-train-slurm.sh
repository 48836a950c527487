#!/bin/bash
# Stage 2 on SLURM, data-parallel over MPI: 2 nodes × 4 tasks = 8 ranks training one model.
# `srun` starts one `llm2clip clip train` per task; each joins the MPI world through PMIx
# (`--mpi=pmix`; an MPI built with PMIx support, as Debian's and Ubuntu's OpenMPI are) and reads its
# rank from SLURM_PROCID / SLURM_STEP_NUM_TASKS / SLURM_LOCALID. `batchSize` in the config is the
# GLOBAL batch (a multiple of the task count): each rank takes batchSize / 8 rows of every batch.
# Rank 0 writes metrics.jsonl, the checkpoints and model/ under the config's outDir, which must be on
# a file system every node sees (checkpoints are read back by every rank on --resume).
#
# Faults: a task that dies makes srun end the step (`--kill-on-bad-exit=1`) instead of leaving the
# other ranks waiting in a collective; `--requeue` + `--resume` restart from the newest checkpoint,
# at any task count (the data cursor counts global batches).
#
#   sbatch clip-train-slurm.sh                 # CONFIG=/path/to/run.json sbatch … for another run
#
#SBATCH --job-name=llm2clip-clip-train
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --cpus-per-task=8
#SBATCH --mem=0
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --output=logs/clip-train-%j.log
set -euo pipefail

CONFIG=${CONFIG:-/shared/runs/stage2/clip-train.json}

srun --mpi=pmix --kill-on-bad-exit=1 --cpu-bind=cores \
  llm2clip clip train --config "$CONFIG" --resume
