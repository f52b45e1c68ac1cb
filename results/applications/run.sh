#!/usr/bin/env bash
# Reproduces results/applications: five real workloads beyond Shakespeare
# next-character prediction, each trained
#   * federated with FedAvg and with FedAdam (same clients, same client work),
#   * centralized (Adam on the pooled train windows, as many examples as the
#     FedAvg run saw),
# and scored against naive baselines on the same test windows (forecasting:
# last reading, and for monthly stocks the reading a year before; classifying:
# the majority train class). Then the runs are recorded here (only finished
# runs, never over a recorded run they fall short of: results/common.sh,
# record_runs), and the tables and plots are drawn from the recorded files.
#
# Each run reads its settings from flags/ (absl --flagfile, later files win):
#   federated:   common.flags  WORKLOAD.flags  WORKLOAD_federated.flags  METHOD.flags
#   centralized: WORKLOAD.flags  centralized.flags  [WORKLOAD_centralized.flags]
#   baselines:   WORKLOAD.flags
# WORKLOAD.flags holds the task and model (what every binary shares).
#
# STEPS="train record report" (default) runs all three; STEPS=report redraws
# the tables and plots from the recorded files only. WORKLOADS="power genre"
# trains (and records) only those.
set -euo pipefail
# shellcheck source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
OUT=${OUT:-runs/applications}
RESULTS=results/applications
F=$RESULTS/flags
STEPS=${STEPS:-train record report}
ALL=(stocks glucose gait power genre)
read -r -a WORKLOADS <<< "${WORKLOADS:-${ALL[*]}}"
declare -A SEASONS=([stocks]=12)

train() {
  local w=$1 method
  for method in fedavg fedadam; do
    "$PY" experiments/run_federated.py --flagfile=$F/common.flags \
        --flagfile=$F/$w.flags --flagfile=$F/${w}_federated.flags \
        --flagfile=$F/$method.flags --root_output_dir="$OUT" \
        --experiment_name=${w}_$method
  done
  local own=()
  [ -f $F/${w}_centralized.flags ] && own=(--flagfile=$F/${w}_centralized.flags)
  "$PY" experiments/run_centralized.py --flagfile=$F/$w.flags \
      --flagfile=$F/centralized.flags "${own[@]}" --root_output_dir="$OUT" \
      --match_examples_of="$OUT/${w}_fedavg" --experiment_name=${w}_centralized
  "$PY" experiments/naive_baselines.py --flagfile=$F/$w.flags \
      --seasons="${SEASONS[$w]:-}" --output=$RESULTS/$w.baselines.json
}

if [[ " $STEPS " == *" train "* ]]; then
  for w in "${WORKLOADS[@]}"; do
    train "$w"
  done
fi

if [[ " $STEPS " == *" record "* ]]; then
  names=()
  for w in "${WORKLOADS[@]}"; do
    names+=(${w}_fedavg ${w}_fedadam ${w}_centralized)
  done
  record_runs "$RESULTS" "${names[@]}"
fi

if [[ " $STEPS " == *" report "* ]]; then
  WORKLOADS=("${ALL[@]}")
  for w in "${WORKLOADS[@]}"; do
    runs=$RESULTS/${w}_fedavg.metrics.csv,$RESULTS/${w}_fedadam.metrics.csv,$RESULTS/${w}_centralized.metrics.csv
    # Error (or accuracy) by round, with the naive baselines as lines.
    refs=()
    while IFS= read -r line; do refs+=(--reference="$line"); done < <(
        "$PY" experiments/compare_to_baselines.py --reference_lines \
            --baselines=$RESULTS/$w.baselines.json)
    "$PY" experiments/plot_metrics.py --experiment_dirs="$runs" \
        --labels="FedAvg,FedAdam,centralized" --x_axis=examples_seen \
        --round_axis "${refs[@]}" --output=$RESULTS/$w.png
  done
  "$PY" experiments/compare_to_baselines.py --results_dir=$RESULTS \
      --workloads="$(IFS=,; echo "${WORKLOADS[*]}")" \
      --output=$RESULTS/table.md
  # Forecasts against the truth, for a few test clients of each series.
  for w in stocks glucose gait; do
    "$PY" experiments/plot_forecasts.py --flagfile=$F/$w.flags \
        --experiment_dir="$OUT/${w}_fedavg" --num_clients=3 \
        --output=$RESULTS/${w}_forecasts.png
  done
fi
