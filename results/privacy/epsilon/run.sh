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
# The first attempt (Adam at 0.01, 16 lines a client: neither run learns in 50
# rounds), then the second (FedAvgM, 64 lines x 2 epochs; 300 clients a round
# for 20 rounds and 200 a round for 30 rounds, each with and without DP).
ORDER=(dp_k100_z2_t50 fedavg_k100_t50)
SECOND=(dp_fedavgm_k300_z3_t20 fedavgm_k300_t20 dp_fedavgm_k200_z2.7_t30
    fedavgm_k200_t30)
run_presets "${ORDER[@]}" "${SECOND[@]}"
record_runs "$RESULTS" "${ORDER[@]}" "${SECOND[@]}"
R=$RESULTS
RUNS=$R/fedavg_k100_t50.metrics.csv,$R/dp_k100_z2_t50.metrics.csv
RUNS=$RUNS,$R/fedavgm_k300_t20.metrics.csv,$R/dp_fedavgm_k300_z3_t20.metrics.csv
RUNS=$RUNS,$R/fedavgm_k200_t30.metrics.csv,$R/dp_fedavgm_k200_z2.7_t30.metrics.csv
"$PY" experiments/summarize_runs.py --at_rounds=5,10,15,20,30,40,50 \
    --experiment_dirs=$RUNS \
    --labels="FedAvg (no DP) k=100,DP-FedAvg k=100 z=2,FedAvgM (no DP) k=300,DP-FedAvgM k=300 z=3,FedAvgM (no DP) k=200,DP-FedAvgM k=200 z=2.7" \
    --output=$R/table.md
"$PY" experiments/plot_metrics.py --experiment_dirs=$RUNS \
    --labels="FedAvg (no DP) k=100,DP-FedAvg k=100 z=2 (epsilon 8.44),FedAvgM (no DP) k=300,DP-FedAvgM k=300 z=3 (epsilon 9.45),FedAvgM (no DP) k=200,DP-FedAvgM k=200 z=2.7 (epsilon 9.13)" \
    --ylabels="test accuracy (100-client sample),test loss (100-client sample)" \
    --reference="0.1642|most frequent character (constant prediction)" \
    --output=$R/accuracy.png
# The epsilon tables (dp-accounting only, a few minutes).
"$PY" experiments/epsilon_table.py --output_dir=$R
