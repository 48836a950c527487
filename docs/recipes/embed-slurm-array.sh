#!/bin/bash
# Stage 2, step 1 on SLURM: `llm2clip embed` split over a job array.
# Each task gets SLURM_ARRAY_TASK_ID (and SLURM_ARRAY_TASK_MIN / _COUNT); `--shard auto` turns them
# into part (ID − MIN) of COUNT. A task that fails or is preempted can be resubmitted alone
# (`sbatch --array=7 embed-slurm-array.sh`): it keeps the shards it finished and redoes the rest.
#
#   jobid=$(sbatch --parsable embed-slurm-array.sh)
#   sbatch --dependency=afterok:$jobid --wrap 'llm2clip embed merge /shared/cc3m/embeddings'
#
#SBATCH --job-name=llm2clip-embed
#SBATCH --array=0-15
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=04:00:00
#SBATCH --requeue
#SBATCH --output=logs/embed-%A_%a.log
set -euo pipefail

llm2clip embed \
  --model /shared/models/Llama-3.2-1B-Instruct \
  --adapter /shared/runs/stage1/adapter \
  --pooling mean \
  --shards '/shared/cc3m/train-{000000..000575}.tar' \
  --out /shared/cc3m/embeddings \
  --shard auto \
  --batch-size 64
