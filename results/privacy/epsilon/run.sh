#!/usr/bin/env bash
# Reproduces results/privacy/epsilon: the best accuracy we recorded at
# epsilon <= 10 (delta = 1e-5, the default min(1e-5, N^-1.1)) on Shakespeare
# next-character prediction, beside plain FedAvg with the same settings, and
# the epsilon tables (no training: dp-accounting only).
# Each run is a preset: flags/common.flags plus flags/<run>.flags.
set -euo pipefail
# shellcheck source=../../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"
OUT=${OUT:-runs/privacy_epsilon}
RESULTS=results/privacy/epsilon
ORDER=(dp_k100_z2_t50 fedavg_k100_t50)
run_presets "${ORDER[@]}"
record_runs "$RESULTS" "${ORDER[@]}"
R=$RESULTS
"$PY" experiments/summarize_runs.py --at_rounds=10,20,30,40,50 \
    --experiment_dirs=$R/fedavg_k100_t50.metrics.csv,$R/dp_k100_z2_t50.metrics.csv \
    --labels="FedAvg (no DP),DP-FedAvg z=2" --output=$R/table.md
"$PY" experiments/plot_metrics.py \
    --experiment_dirs=$R/fedavg_k100_t50.metrics.csv,$R/dp_k100_z2_t50.metrics.csv \
    --labels="FedAvg (no DP),DP-FedAvg z=2 (epsilon 8.44)" \
    --ylabels="test accuracy (100-client sample),test loss (100-client sample)" \
    --output=$R/accuracy.png
# The epsilon tables (dp-accounting only, a few minutes).
"$PY" experiments/epsilon_table.py --output_dir=$R
