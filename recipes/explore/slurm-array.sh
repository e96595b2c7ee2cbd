#!/bin/bash
# A clean sweep of `shadowvisor explore` as a Slurm job array: task i runs shard i of SHARDS.
#   sbatch recipes/explore/slurm-array.sh
# then, when every task is done:
#   node dist/shadowvisor.mjs explore --merge results/shard-*.jsonl
#SBATCH --job-name=shadowvisor-explore
#SBATCH --array=0-15
#SBATCH --cpus-per-task=1
#SBATCH --output=results/slurm-%A_%a.log
SHARDS=16
mkdir -p results
node dist/shadowvisor.mjs explore --scheduler random --seeds 1..10000 --keep-going --json \
  --shard "${SLURM_ARRAY_TASK_ID}/${SHARDS}" > "results/shard-${SLURM_ARRAY_TASK_ID}.jsonl"
s=$?
# Exit status 1 means "a failure was found": the shard's output says which; it is not a crash.
[ "$s" -le 1 ] || exit "$s"
