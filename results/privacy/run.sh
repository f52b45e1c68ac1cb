#!/usr/bin/env bash
# Reproduces results/privacy: short Shakespeare runs (next character, 2x256
# LSTM, 20 clients/round, each client's first 16 lines, batch 4, 1 epoch,
# 30 rounds) for
#   * DP-FedAvg with adaptive clipping (Andrew et al. 2021) at two noise
#     multipliers, against the same run without DP (all uniformly weighted, as
#     DP needs), with the epsilon each reached at delta = 1/num_clients;
#   * compressed client updates (8-bit, 4-bit + Hadamard rotation) against
#     uncompressed, with the bytes each sent.
# Then the runs are recorded here (only finished runs, never over a recorded
# run they fall short of: results/common.sh, record_runs), and the two tables
# (summarize_runs.py) and the plots are drawn from the recorded files.
# Each run's flags are a preset in flags/ (common.flags, then <run>.flags),
# read with absl's --flagfile.
set -euo pipefail
# shellcheck source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
OUT=${OUT:-runs/privacy}
RESULTS=results/privacy
ORDER=(uniform_no_dp dp_adaptive_z0.3 dp_adaptive_z1.0 uncompressed
       compressed_8bit compressed_4bit_hadamard)
run_presets "${ORDER[@]}"
record_runs "$RESULTS" "${ORDER[@]}"
P=results/privacy
"$PY" experiments/summarize_runs.py --at_rounds=10,20,30 \
    --experiment_dirs=$P/uniform_no_dp.metrics.csv,$P/dp_adaptive_z0.3.metrics.csv,$P/dp_adaptive_z1.0.metrics.csv \
    --labels="no DP,DP z=0.3,DP z=1.0" --output=$P/dp_table.md
"$PY" experiments/summarize_runs.py --at_rounds=10,20,30 \
    --experiment_dirs=$P/uncompressed.metrics.csv,$P/compressed_8bit.metrics.csv,$P/compressed_4bit_hadamard.metrics.csv \
    --labels="uncompressed,8-bit,4-bit + Hadamard" --output=$P/compression_table.md
# The plots (README.md gives the same commands).
"$PY" experiments/plot_metrics.py \
    --experiment_dirs=$P/uniform_no_dp.metrics.csv,$P/dp_adaptive_z0.3.metrics.csv,$P/dp_adaptive_z1.0.metrics.csv \
    --labels="no DP,DP z=0.3,DP z=1.0" \
    --ylabels="test accuracy (100-client sample),test loss (100-client sample)" \
    --output=$P/dp.png
"$PY" experiments/plot_metrics.py \
    --experiment_dirs=$P/uncompressed.metrics.csv,$P/compressed_8bit.metrics.csv,$P/compressed_4bit_hadamard.metrics.csv \
    --labels="uncompressed,8-bit,4-bit + Hadamard" \
    --ylabels="test accuracy (100-client sample),test loss (100-client sample)" \
    --output=$P/compression.png
