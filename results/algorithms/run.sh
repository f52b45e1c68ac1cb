#!/usr/bin/env bash
# Reproduces results/algorithms: FedAvg, FedProx and SCAFFOLD on offline
# Shakespeare, each with the same seeds, cohort and local work: the McMahan
# et al. 2x256 LSTM, 10 clients a round, batch 4, 1 local epoch over all of a
# client's data (the setting of results/reproductions), 300 rounds,
# example-weighted plain mean (no robust aggregation), server SGD at learning
# rate 1, all on the vectorized cohort. Learning rates and mu are in README.md beside the table.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/algorithms}
RESULTS=results/algorithms
PY=.venv/bin/python
COMMON=(--task=shakespeare_char --clients_per_round=10 --client_batch_size=4
        --client_epochs_per_round=1
        --server_optimizer=sgd --server_learning_rate=1
        --client_weighting=num_examples --norobust_aggregation
        --client_parallelism=vectorized --total_rounds=300
        --rounds_per_eval=20 --clients_per_eval=100 --rounds_per_checkpoint=20
        --client_datasets_random_seed=0 --model_seed=0 --progress_bar=false
        --root_output_dir="$OUT")
NAMES=(fedavg fedprox_mu0.01 scaffold)
$PY experiments/run_federated.py "${COMMON[@]}" --algorithm=scaffold \
    --client_learning_rate=1 --experiment_name=scaffold
$PY experiments/run_federated.py "${COMMON[@]}" --algorithm=fedprox \
    --client_learning_rate=1 --fedprox_mu=0.01 --experiment_name=fedprox_mu0.01
$PY experiments/run_federated.py "${COMMON[@]}" --algorithm=fedavg \
    --client_learning_rate=1 --experiment_name=fedavg
mkdir -p "$RESULTS"
DIRS=""
for name in "${NAMES[@]}"; do
  cp "$OUT/$name/metrics.csv" "$RESULTS/$name.metrics.csv"
  cp "$OUT/$name/final_metrics.json" "$RESULTS/$name.final_metrics.json"
  DIRS="$DIRS${DIRS:+,}$OUT/$name"
done
LABELS="FedAvg,FedProx (mu 0.01),SCAFFOLD"
$PY experiments/summarize_runs.py --at_rounds=100,200,300 \
    --experiment_dirs="$DIRS" --labels="$LABELS" --output="$RESULTS/table.md"
$PY experiments/plot_metrics.py --output="$RESULTS/accuracy.png" \
    --experiment_dirs="$DIRS" --labels="$LABELS"
