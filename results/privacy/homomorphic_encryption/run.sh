#!/usr/bin/env bash
# Reproduces results/privacy/homomorphic_encryption:
#   1. the cost of CKKS-encrypted aggregation against the plain sum, per round
#      at 10 and 50 clients on the 2x256 LSTM's update
#      (benchmarks/homomorphic_encryption_cost.py -> cost.json, cost.md;
#      the 60,40,40,60 chain for comparison -> chain_60_40_40_60/);
#   2. a short accuracy run of FedAvg with CKKS against plain FedAvg, same
#      seeds and cohorts (flags/common.flags + flags/<method>.flags), recorded
#      here only if each finished and none falls short of a recorded run
#      (results/common.sh: record_runs); the table and plot are drawn from the
#      recorded files.
set -euo pipefail
# shellcheck source=../../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../common.sh"
OUT=${OUT:-runs/homomorphic_encryption}
RESULTS=results/privacy/homomorphic_encryption
"$PY" benchmarks/homomorphic_encryption_cost.py --clients=10,50 \
    --output_dir=$RESULTS
# The usual chain of multiplying CKKS, for comparison: one client.
"$PY" benchmarks/homomorphic_encryption_cost.py --clients=1 \
    --ckks_coeff_mod_bit_sizes=60,40,40,60 \
    --output_dir=$RESULTS/chain_60_40_40_60
METHODS=(plain ckks)
run_presets "${METHODS[@]}"
record_runs "$RESULTS" "${METHODS[@]}"
"$PY" experiments/summarize_runs.py --at_rounds=5,10,15,20,25 \
    --experiment_dirs=$RESULTS/plain.metrics.csv,$RESULTS/ckks.metrics.csv \
    --labels="plain FedAvg,CKKS FedAvg" --output=$RESULTS/table.md
# The plot (README.md gives the same command).
"$PY" experiments/plot_metrics.py \
    --experiment_dirs=$RESULTS/plain.metrics.csv,$RESULTS/ckks.metrics.csv \
    --labels="plain FedAvg,CKKS FedAvg" \
    --ylabels="test accuracy (100-client sample),test loss (100-client sample)" \
    --output=$RESULTS/accuracy.png
