#!/usr/bin/env bash
# The accuracy cost of --bf16: the same short FedAvg run (10 clients/round,
# each client's first 16 lines, 30 rounds, vectorized cohort) in float32 and in
# bfloat16 mixed precision, then one table (results/benchmarks/bf16_accuracy.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/bf16}
COMMON=(--task=shakespeare_char --clients_per_round=10 --client_batch_size=4
        --max_elements_per_client=16 --total_rounds=30 --rounds_per_eval=10
        --clients_per_eval=100 --client_datasets_random_seed=0 --model_seed=0
        --client_parallelism=vectorized --progress_bar=false
        --root_output_dir="$OUT")
.venv/bin/python experiments/run_federated.py "${COMMON[@]}" --experiment_name=float32
.venv/bin/python experiments/run_federated.py "${COMMON[@]}" --bf16 --experiment_name=bf16
.venv/bin/python experiments/summarize_runs.py --at_rounds=10,20,30 \
    --experiment_dirs="$OUT/float32,$OUT/bf16" --labels="float32,bfloat16 (--bf16)" \
    --output=results/benchmarks/bf16_accuracy.md
