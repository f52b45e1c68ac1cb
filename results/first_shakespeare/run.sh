#!/usr/bin/env bash
# Reproduces results/first_shakespeare: FedAvg and FedAdam on offline Shakespeare
# (next character, 2x256 LSTM, sequence length 80, 10 clients/round, batch 4,
# 1 local epoch), each for as many rounds as fit in BUDGET seconds, then the
# centralized baseline for the same number of examples seen.
#
# A run is stopped by SIGTERM when its budget ends (the binary exits cleanly and
# its last checkpoint stays); rerunning with --total_rounds=<last checkpoint>
# resumes, trains nothing more and evaluates that model on the full test split.
#
# The runs are recorded here only if each finished and none falls short of a
# recorded run (results/common.sh: record_runs; a smaller BUDGET trains fewer
# rounds, and is refused); the table and plot are drawn from the recorded
# files.
set -euo pipefail
# shellcheck source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
BUDGET=${BUDGET:-1800}
OUT=${OUT:-runs/first_shakespeare}
COMMON=(--task=shakespeare_char --clients_per_round=10 --client_batch_size=4
        --client_epochs_per_round=1 --client_learning_rate=1
        --robust_aggregation  # recorded with the robust mean, the default then
        --rounds_per_eval=10 --clients_per_eval=100 --rounds_per_checkpoint=5
        --client_datasets_random_seed=0 --model_seed=0 --progress_bar=false
        --root_output_dir="$OUT")
declare -A SERVER=(
  [fedavg]="--server_optimizer=sgd --server_learning_rate=1"
  [fedadam]="--server_optimizer=adam --server_learning_rate=0.01 --server_epsilon=0.001"
)
for name in fedavg fedadam; do
  # shellcheck disable=SC2086
  timeout -s TERM "$BUDGET" "$PY" experiments/run_federated.py \
      "${COMMON[@]}" ${SERVER[$name]} --total_rounds=100000 \
      --experiment_name="$name" || true
  last=$(ls "$OUT/$name/checkpoints" | sed -n 's/^program_state_\([0-9]*\)$/\1/p' | sort -n | tail -1)
  # shellcheck disable=SC2086
  "$PY" experiments/run_federated.py "${COMMON[@]}" ${SERVER[$name]} \
      --total_rounds="$last" --experiment_name="$name"
done
# The centralized baseline: the same Keras model on all training clients pooled,
# SGD at the clients' learning rate and batch, for as many examples as FedAvg saw.
"$PY" experiments/run_centralized.py --task=shakespeare_char \
    --optimizer=sgd --learning_rate=1 --batch_size=4 \
    --match_examples_of="$OUT/fedavg" --steps_per_eval=500 \
    --clients_per_eval=100 --data_seed=0 --model_seed=0 --progress_bar=false \
    --root_output_dir="$OUT" --experiment_name=centralized
record_runs results/first_shakespeare fedavg fedadam centralized
F=results/first_shakespeare
"$PY" experiments/summarize_runs.py --at_rounds=10,20,30,40 \
    --experiment_dirs=$F/fedavg.metrics.csv,$F/fedadam.metrics.csv,$F/centralized.metrics.csv \
    --labels="FedAvg,FedAdam,centralized (SGD)" --output=$F/table.md
# The plot (README.md gives the same command).
"$PY" experiments/plot_metrics.py --x_axis=examples_seen --round_axis \
    --experiment_dirs=$F/fedavg.metrics.csv,$F/fedadam.metrics.csv,$F/centralized.metrics.csv \
    --labels="FedAvg,FedAdam,centralized (SGD)" \
    --ylabels="test accuracy (100-client sample),test loss (100-client sample)" \
    --output=$F/accuracy.png
