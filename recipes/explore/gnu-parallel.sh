#!/bin/bash
# A clean sweep of `shadowvisor explore` with GNU parallel: SHARDS shards on this machine, or
# across hosts with --sshlogin (each host needs the same checkout at the same path):
#   recipes/explore/gnu-parallel.sh                       # local, one shard per core
#   SSHLOGIN=4/alice@a,4/bob@b recipes/explore/gnu-parallel.sh
# then the merge (also printed at the end):
#   node dist/shadowvisor.mjs explore --merge results/shard-*.jsonl
# Knobs: SHARDS (default 16), SEEDS (default 1..10000), ARGS (more explore options, e.g.
# '--scenario swap-fault'; default: every scenario), RESULTS (default results), SV (the command).
set -u
SHARDS=${SHARDS:-16}
SEEDS=${SEEDS:-1..10000}
ARGS=${ARGS:-}
RESULTS=${RESULTS:-results}
SV=${SV:-node dist/shadowvisor.mjs}
mkdir -p "$RESULTS"
remote=()
[ -n "${SSHLOGIN:-}" ] && remote=(--sshlogin "$SSHLOGIN" --workdir "$PWD" --return "$RESULTS/shard-{}.jsonl" --cleanup)
seq 0 $((SHARDS - 1)) | parallel "${remote[@]}" --halt never \
  "$SV explore --scheduler random --seeds $SEEDS $ARGS --keep-going --json --shard {}/$SHARDS > $RESULTS/shard-{}.jsonl; [ \$? -le 1 ]"
$SV explore --merge "$RESULTS"/shard-*.jsonl
