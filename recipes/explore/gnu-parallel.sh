#!/bin/bash
# A clean sweep of `shadowvisor explore` with GNU parallel: SHARDS shards on this machine, or
# across hosts with --sshlogin (each host needs the same checkout at the same path):
#   recipes/explore/gnu-parallel.sh                       # local, one shard per core
#   SSHLOGIN=4/alice@a,4/bob@b recipes/explore/gnu-parallel.sh
# then the merge (also printed at the end):
#   node dist/shadowvisor.mjs explore --merge results/shard-*.jsonl
set -u
SHARDS=${SHARDS:-16}
SEEDS=${SEEDS:-1..10000}
mkdir -p results
remote=()
[ -n "${SSHLOGIN:-}" ] && remote=(--sshlogin "$SSHLOGIN" --workdir "$PWD" --return 'results/shard-{}.jsonl' --cleanup)
seq 0 $((SHARDS - 1)) | parallel "${remote[@]}" --halt never \
  "node dist/shadowvisor.mjs explore --scheduler random --seeds $SEEDS --keep-going --json --shard {}/$SHARDS > results/shard-{}.jsonl; [ \$? -le 1 ]"
node dist/shadowvisor.mjs explore --merge results/shard-*.jsonl
