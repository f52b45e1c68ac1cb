#!/usr/bin/env bash
# Reproduces results/algorithms: FedAvg, FedProx and SCAFFOLD on offline
# Shakespeare, each with the same seeds, cohort and local work: the McMahan
# et al. 2x256 LSTM, 10 clients a round, batch 4, 1 local epoch over all of a
# client's data (the setting of results/reproductions), 300 rounds,
# example-weighted plain mean (no robust aggregation), server SGD at learning
# rate 1, all on the vectorized cohort. Each method's flags are a preset in
# flags/ (common.flags, then <method>.flags), read with absl's --flagfile.
#
# The runs are recorded here only if each finished and none falls short of a
# recorded run of the same name (results/common.sh: record_runs); the table
# and plot are then drawn from the recorded files.
set -euo pipefail
# shellcheck source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
OUT=${OUT:-runs/algorithms}
RESULTS=results/algorithms
NAMES=(fedavg fedprox_mu0.01 scaffold)
run_presets scaffold fedprox_mu0.01 fedavg
record_runs "$RESULTS" "${NAMES[@]}"
"$PY" experiments/summarize_runs.py --at_rounds=100,200,300 \
    --experiment_dirs=results/algorithms/fedavg.metrics.csv,results/algorithms/fedprox_mu0.01.metrics.csv,results/algorithms/scaffold.metrics.csv \
    --labels="FedAvg,FedProx (mu 0.01),SCAFFOLD" --output=results/algorithms/table.md
# The plot (README.md gives the same command).
"$PY" experiments/plot_metrics.py \
    --experiment_dirs=results/algorithms/fedavg.metrics.csv,results/algorithms/fedprox_mu0.01.metrics.csv,results/algorithms/scaffold.metrics.csv \
    --labels="FedAvg,FedProx (mu 0.01),SCAFFOLD" \
    --ylabels="test accuracy (100-client sample),test loss (100-client sample)" \
    --output=results/algorithms/accuracy.png
