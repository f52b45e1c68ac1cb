#!/usr/bin/env bash
# Reproduces results/privacy/secure_aggregation: short Shakespeare runs
# (next character, 2x256 LSTM, 10 clients/round, each client's first 16
# lines, batch 4, 1 epoch, 20 rounds) of plain FedAvg against masked secure
# aggregation (docs/secure_aggregation.md), and of distributed DP over the
# masked protocol against the same DP over TFF's simulated secure sum; then
# records them here (results/common.sh, record_runs) and draws the table and
# the plot from the recorded files. The per-round cost table comes from
# benchmarks/secure_aggregation_cost.py (the last command).
set -euo pipefail
# shellcheck source=../../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"
OUT=${OUT:-runs/privacy_secure_aggregation}
RESULTS=results/privacy/secure_aggregation
ORDER=(fedavg masked masked_ddp simulated_ddp)
run_presets "${ORDER[@]}"
record_runs "$RESULTS" "${ORDER[@]}"
R=$RESULTS
"$PY" experiments/summarize_runs.py --at_rounds=5,10,15,20 \
    --experiment_dirs=$R/fedavg.metrics.csv,$R/masked.metrics.csv \
    --labels="FedAvg (plain),masked SecAgg" \
    --output=$R/accuracy_table.md
"$PY" experiments/plot_metrics.py \
    --experiment_dirs=$R/fedavg.metrics.csv,$R/masked.metrics.csv \
    --labels="FedAvg (plain),masked SecAgg" \
    --ylabels="test accuracy (100-client sample),test loss (100-client sample)" \
    --output=$R/accuracy.png
"$PY" experiments/summarize_runs.py --at_rounds=5,10,15,20 \
    --experiment_dirs=$R/simulated_ddp.metrics.csv,$R/masked_ddp.metrics.csv \
    --labels="DDP (simulated secure sum),DDP over masked SecAgg" \
    --output=$R/ddp_accuracy_table.md
"$PY" experiments/plot_metrics.py \
    --experiment_dirs=$R/simulated_ddp.metrics.csv,$R/masked_ddp.metrics.csv \
    --labels="DDP (simulated secure sum),DDP over masked SecAgg" \
    --ylabels="test accuracy (100-client sample),test loss (100-client sample)" \
    --output=$R/ddp_accuracy.png
"$PY" benchmarks/secure_aggregation_cost.py --clients=10,50 \
    --output_dir=$R
