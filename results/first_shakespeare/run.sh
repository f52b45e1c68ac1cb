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
# files. Each method's flags are a preset in flags/ (common.flags, then
# <method>.flags; the centralized baseline's centralized.flags alone), read with
# absl's --flagfile.
set -euo pipefail
# shellcheck source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
BUDGET=${BUDGET:-1800}
OUT=${OUT:-runs/first_shakespeare}
FLAGS=results/first_shakespeare/flags
for name in fedavg fedadam; do
  preset=(--flagfile=$FLAGS/common.flags --flagfile=$FLAGS/$name.flags
          --root_output_dir="$OUT" --experiment_name="$name")
  timeout -s TERM "$BUDGET" "$PY" experiments/run_federated.py "${preset[@]}" \
      --total_rounds=100000 || true
  last=$(ls "$OUT/$name/checkpoints" | sed -n 's/^program_state_\([0-9]*\)$/\1/p' | sort -n | tail -1)
  "$PY" experiments/run_federated.py "${preset[@]}" --total_rounds="$last"
done
# The centralized baseline: the same Keras model on all training clients pooled,
# SGD at the clients' learning rate and batch, for as many examples as FedAvg saw.
"$PY" experiments/run_centralized.py --flagfile=$FLAGS/centralized.flags \
    --match_examples_of="$OUT/fedavg" --root_output_dir="$OUT" \
    --experiment_name=centralized
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
