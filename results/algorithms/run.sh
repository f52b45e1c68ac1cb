#!/usr/bin/env bash
# Reproduces results/algorithms: FedAvg, FedProx and SCAFFOLD on offline
# Shakespeare, each with the same seeds, cohort and local work: the McMahan
# et al. 2x256 LSTM, 10 clients a round, batch 4, 1 local epoch over all of a
# client's data (the setting of results/reproductions), 300 rounds,
# example-weighted plain mean (no robust aggregation), server SGD at learning
# rate 1, all on the vectorized cohort. Learning rates and mu are in README.md beside the table.
#
# The runs are recorded here only if each finished and none falls short of a
# recorded run of the same name (results/common.sh: record_runs); the table
# and plot are then drawn from the recorded files.
set -euo pipefail
# shellcheck source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
OUT=${OUT:-runs/algorithms}
RESULTS=results/algorithms
COMMON=(--task=shakespeare_char --clients_per_round=10 --client_batch_size=4
        --client_epochs_per_round=1
        --server_optimizer=sgd --server_learning_rate=1
        --client_weighting=num_examples --norobust_aggregation
        --client_parallelism=vectorized --total_rounds=300
        --rounds_per_eval=20 --clients_per_eval=100 --rounds_per_checkpoint=20
        --client_datasets_random_seed=0 --model_seed=0 --progress_bar=false
        --root_output_dir="$OUT")
NAMES=(fedavg fedprox_mu0.01 scaffold)
"$PY" experiments/run_federated.py "${COMMON[@]}" --algorithm=scaffold \
    --client_learning_rate=1 --experiment_name=scaffold
"$PY" experiments/run_federated.py "${COMMON[@]}" --algorithm=fedprox \
    --client_learning_rate=1 --fedprox_mu=0.01 --experiment_name=fedprox_mu0.01
"$PY" experiments/run_federated.py "${COMMON[@]}" --algorithm=fedavg \
    --client_learning_rate=1 --experiment_name=fedavg
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
