#!/usr/bin/env bash
# Reproduces results/trimmed_mean: the guide's example algorithm
# (docs/adding_an_algorithm.md) in a short real run. FedAvg on offline
# Shakespeare (2x256 LSTM, 10 clients/round, batch 4, 1 epoch, client and
# server SGD lr 1, uniform client weighting, 40 rounds), aggregated by the plain
# mean and by the coordinate-wise trimmed mean dropping 10% of clients at each
# end (with 10 clients: the highest and the lowest value of every coordinate).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/trimmed_mean}
RESULTS=results/trimmed_mean
PY=.venv/bin/python
COMMON=(--task=shakespeare_char --clients_per_round=10 --client_batch_size=4
        --client_epochs_per_round=1 --client_learning_rate=1
        --server_optimizer=sgd --server_learning_rate=1
        --client_weighting=uniform --total_rounds=40 --rounds_per_eval=10
        --clients_per_eval=100 --rounds_per_checkpoint=10
        --client_datasets_random_seed=0 --model_seed=0 --progress_bar=false
        --root_output_dir="$OUT")
$PY experiments/run_federated.py "${COMMON[@]}" --norobust_aggregation \
    --experiment_name=mean
$PY experiments/run_federated.py "${COMMON[@]}" --trimmed_mean_fraction=0.1 \
    --experiment_name=trimmed_mean_0.1
mkdir -p "$RESULTS"
for name in mean trimmed_mean_0.1; do
  cp "$OUT/$name/metrics.csv" "$RESULTS/$name.metrics.csv"
  cp "$OUT/$name/final_metrics.json" "$RESULTS/$name.final_metrics.json"
done
$PY experiments/summarize_runs.py --at_rounds=10,20,30,40 \
    --experiment_dirs="$OUT/mean,$OUT/trimmed_mean_0.1" \
    --labels="mean,trimmed mean (10% each end)" --output="$RESULTS/table.md"
$PY experiments/plot_metrics.py --output="$RESULTS/accuracy.png" \
    --experiment_dirs="$OUT/mean,$OUT/trimmed_mean_0.1" \
    --labels="mean,trimmed mean (10% each end)"
