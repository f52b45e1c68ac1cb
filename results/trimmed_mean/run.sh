#!/usr/bin/env bash
# Reproduces results/trimmed_mean: the guide's example algorithm
# (docs/adding_an_algorithm.md) in a short real run. FedAvg on offline
# Shakespeare (2x256 LSTM, 10 clients/round, batch 4, 1 epoch, client and
# server SGD lr 1, uniform client weighting, 40 rounds), aggregated by the plain
# mean and by the coordinate-wise trimmed mean dropping 10% of clients at each
# end (with 10 clients: the highest and the lowest value of every coordinate).
# The runs are recorded here only if both finished and neither falls short of
# a recorded run (results/common.sh: record_runs); the table and plot are
# drawn from the recorded files. Each method's flags are a preset in flags/
# (common.flags, then <method>.flags), read with absl's --flagfile.
set -euo pipefail
# shellcheck source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
OUT=${OUT:-runs/trimmed_mean}
RESULTS=results/trimmed_mean
run_presets mean trimmed_mean_0.1
record_runs "$RESULTS" mean trimmed_mean_0.1
T=results/trimmed_mean
"$PY" experiments/summarize_runs.py --at_rounds=10,20,30,40 \
    --experiment_dirs=$T/mean.metrics.csv,$T/trimmed_mean_0.1.metrics.csv \
    --labels="mean,trimmed mean (10% each end)" --output=$T/table.md
# The plot (README.md gives the same command).
"$PY" experiments/plot_metrics.py \
    --experiment_dirs=$T/mean.metrics.csv,$T/trimmed_mean_0.1.metrics.csv \
    --labels="mean,trimmed mean (10% each end)" \
    --metrics=evaluation/test/accuracy,evaluation/test/loss,client_work/train/loss \
    --ylabels="test accuracy (100-client sample),test loss (100-client sample),train loss (round's clients)" \
    --output=$T/accuracy.png
