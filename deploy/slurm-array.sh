#!/bin/bash
# Run an ipbench configuration as a Slurm job array, one shard per task, then
# merge the shards in a job that depends on the array:
#
#   sbatch --array=1-16 deploy/slurm-array.sh configs/my.yaml results/my
#   (then, printed by the first task) sbatch --dependency=afterok:<id> deploy/slurm-array.sh --merge results/my 16
#
# Every task writes its own record (results/my/shard-K); shards of one
# configuration merge into results/my. A task that is requeued or run again
# resumes its shard: only what is missing is done.
#SBATCH --job-name=ipbench
#SBATCH --cpus-per-task=8
#SBATCH --mem=16G
#SBATCH --time=12:00:00
#SBATCH --output=ipbench-%A_%a.log
set -euo pipefail
IPBENCH=${IPBENCH:-bin/ipbench}   # built with `make build`: bin/plugins beside it

if [ "${1:-}" = "--merge" ]; then
	out=$2 n=$3
	shards=()
	for k in $(seq 1 "$n"); do shards+=("$out/shard-$k"); done
	exec "$IPBENCH" merge "$out" "${shards[@]}"
fi

config=$1 out=$2
k=${SLURM_ARRAY_TASK_ID:?run me as an array job: sbatch --array=1-N}
n=${SLURM_ARRAY_TASK_COUNT:?}
if [ "$k" = "${SLURM_ARRAY_TASK_MIN:-1}" ]; then
	echo "when the array is done: sbatch --dependency=afterok:${SLURM_ARRAY_JOB_ID} $0 --merge $out $n"
fi
exec "$IPBENCH" run "$config" --shard "$k/$n" --output "$out/shard-$k"
