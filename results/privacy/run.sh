#!/usr/bin/env bash
# Reproduces results/privacy: short Shakespeare runs (next character, 2x256
# LSTM, 20 clients/round, each client's first 16 lines, batch 4, 1 epoch,
# 30 rounds) for
#   * DP-FedAvg with adaptive clipping (Andrew et al. 2021) at two noise
#     multipliers, against the same run without DP (all uniformly weighted, as
#     DP needs), with the epsilon each reached at delta = 1/num_clients;
#   * compressed client updates (8-bit, 4-bit + Hadamard rotation) against
#     uncompressed, with the bytes each sent.
# Then the two tables (summarize_runs.py) and the accuracy plots.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/privacy}
RESULTS=results/privacy
PY=.venv/bin/python
COMMON=(--task=shakespeare_char --clients_per_round=20 --client_batch_size=4
        --client_epochs_per_round=1 --max_elements_per_client=16
        --client_learning_rate=1 --server_optimizer=sgd --server_learning_rate=1
        --total_rounds=30 --rounds_per_eval=10 --clients_per_eval=100
        --rounds_per_checkpoint=10 --client_datasets_random_seed=0
        --model_seed=0 --progress_bar=false --root_output_dir="$OUT")
declare -A RUNS=(
  [uniform_no_dp]="--client_weighting=uniform"
  [dp_adaptive_z0.3]="--client_weighting=uniform --dp_mechanism=gaussian_adaptive --dp_noise_multiplier=0.3"
  [dp_adaptive_z1.0]="--client_weighting=uniform --dp_mechanism=gaussian_adaptive --dp_noise_multiplier=1.0"
  [uncompressed]=""
  [compressed_8bit]="--compression --compression_bits=8"
  [compressed_4bit_hadamard]="--compression --compression_bits=4 --hadamard"
)
ORDER=(uniform_no_dp dp_adaptive_z0.3 dp_adaptive_z1.0 uncompressed
       compressed_8bit compressed_4bit_hadamard)
for name in "${ORDER[@]}"; do
  # shellcheck disable=SC2086
  $PY experiments/run_federated.py "${COMMON[@]}" ${RUNS[$name]} \
      --experiment_name="$name"
done
mkdir -p "$RESULTS"
for name in "${ORDER[@]}"; do
  cp "$OUT/$name/metrics.csv" "$RESULTS/$name.metrics.csv"
done
$PY experiments/summarize_runs.py --at_rounds=10,20,30 \
    --experiment_dirs="$OUT/uniform_no_dp,$OUT/dp_adaptive_z0.3,$OUT/dp_adaptive_z1.0" \
    --labels="no DP,DP z=0.3,DP z=1.0" --output="$RESULTS/dp_table.md"
$PY experiments/summarize_runs.py --at_rounds=10,20,30 \
    --experiment_dirs="$OUT/uncompressed,$OUT/compressed_8bit,$OUT/compressed_4bit_hadamard" \
    --labels="uncompressed,8-bit,4-bit + Hadamard" \
    --output="$RESULTS/compression_table.md"
$PY experiments/plot_metrics.py --output="$RESULTS/dp.png" \
    --experiment_dirs="$OUT/uniform_no_dp,$OUT/dp_adaptive_z0.3,$OUT/dp_adaptive_z1.0" \
    --labels="no DP,DP z=0.3,DP z=1.0"
$PY experiments/plot_metrics.py --output="$RESULTS/compression.png" \
    --experiment_dirs="$OUT/uncompressed,$OUT/compressed_8bit,$OUT/compressed_4bit_hadamard" \
    --labels="uncompressed,8-bit,4-bit + Hadamard"
