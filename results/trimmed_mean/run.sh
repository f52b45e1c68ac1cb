#!/usr/bin/env bash
# Reproduces results/trimmed_mean: the guide's example algorithm
# (docs/adding_an_algorithm.md) in a short real run. FedAvg on offline
# Shakespeare (2x256 LSTM, 10 clients/round, batch 4, 1 epoch, client and
# server SGD lr 1, uniform client weighting, 40 rounds), aggregated by the plain
# mean and by the coordinate-wise trimmed mean dropping 10% of clients at each
# end (with 10 clients: the highest and the lowest value of every coordinate).
# The runs are recorded here only if both finished and neither falls short of
# a recorded run (results/common.sh: record_runs); the table and plot are
# drawn from the recorded files.
set -euo pipefail
# shellcheck source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
OUT=${OUT:-runs/trimmed_mean}
RESULTS=results/trimmed_mean
COMMON=(--task=shakespeare_char --clients_per_round=10 --client_batch_size=4
        --client_epochs_per_round=1 --client_learning_rate=1
        --server_optimizer=sgd --server_learning_rate=1
        --client_weighting=uniform --total_rounds=40 --rounds_per_eval=10
        --clients_per_eval=100 --rounds_per_checkpoint=10
        --client_datasets_random_seed=0 --model_seed=0 --progress_bar=false
        --root_output_dir="$OUT")
"$PY" experiments/run_federated.py "${COMMON[@]}" --norobust_aggregation \
    --experiment_name=mean
"$PY" experiments/run_federated.py "${COMMON[@]}" --trimmed_mean_fraction=0.1 \
    --experiment_name=trimmed_mean_0.1
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
