#!/usr/bin/env bash
# Reproduces results/reproductions: the Reddi et al. 2021 Shakespeare setting
# (next character, 2x256 LSTM, sequence length 80, 10 clients/round, batch 4,
# 1 local epoch, client SGD lr 1, 1,200 rounds) with each method's best
# hyperparameters from the paper's tuning (google-research/federated
# optimization/docs/hyperparameters.md, "Best hyperparameters", base-10 logs),
# the centralized baseline, and DP-FedAvg with adaptive clipping (Andrew et al.
# 2021) at two noise multipliers.
#
# Each run gets BUDGET seconds (DP runs DP_BUDGET) per invocation; a run that
# does not reach ROUNDS is evaluated at its last checkpoint, and rerunning this
# script continues every run from there (see tools/budgeted_run.sh).
# TRAIN picks which runs to train this time (default: all); the tables and plots
# always cover every run that exists.
#   bash results/reproductions/run.sh                    # 2 h per run
#   BUDGET=1140 DP_BUDGET=600 bash results/reproductions/run.sh
#   TRAIN="centralized fedavg" bash results/reproductions/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BUDGET=${BUDGET:-7200}
DP_BUDGET=${DP_BUDGET:-$BUDGET}
ROUNDS=${ROUNDS:-1200}
OUT=${OUT:-runs/reproductions}
PY=.venv/bin/python
RESULTS=results/reproductions
# shellcheck source=../../tools/budgeted_run.sh
source tools/budgeted_run.sh

COMMON=(--task=shakespeare_char --clients_per_round=10 --client_batch_size=4
        --client_epochs_per_round=1 --client_optimizer=sgd
        --client_learning_rate=1 --rounds_per_eval=20 --clients_per_eval=100
        --rounds_per_checkpoint=5 --client_datasets_random_seed=0
        --model_seed=0 --progress_bar=false --root_output_dir="$OUT")
# Reddi et al.'s aggregation is the plain example-weighted mean.
PLAIN=(--norobust_aggregation)
declare -A SERVER=(
  # log10 server lr 0; no momentum.
  [fedavg]="--server_optimizer=sgd --server_learning_rate=1"
  # log10 server lr -0.5; momentum 0.9.
  [fedavgm]="--server_optimizer=sgd --server_learning_rate=0.31622776601683794 --server_momentum=0.9"
  # log10 server lr -2, log10 tau (epsilon) -3; beta1 0.9, beta2 0.999.
  [fedadam]="--server_optimizer=adam --server_learning_rate=0.01 --server_epsilon=0.001"
  [fedyogi]="--server_optimizer=yogi --server_learning_rate=0.01 --server_epsilon=0.001"
)
METHODS=(fedavg fedavgm fedadam fedyogi)
# Andrew et al. 2021: adaptive clip towards the median update norm; DP needs
# uniform weighting. Two noise multipliers at this cohort size.
declare -A DP=(
  [dp_fedavg_z0.1]="--dp_noise_multiplier=0.1"
  [dp_fedavg_z0.3]="--dp_noise_multiplier=0.3"
)
DP_RUNS=(dp_fedavg_z0.1 dp_fedavg_z0.3)
TRAIN=${TRAIN:-"${METHODS[*]} centralized ${DP_RUNS[*]}"}
training() { [[ " $TRAIN " == *" $1 "* ]]; }

# Centralized: the same Keras model on all training clients pooled, SGD at the
# clients' learning rate and batch size, for as many examples as FedAvg had
# seen when it started (its hparams hold that budget). So a started run is
# continued before FedAvg trains on, and a new one starts after FedAvg. Like a
# federated run, one stopped by its budget is evaluated at its last checkpoint
# (a round is CENTRAL_ROUND_STEPS steps) and continues on the next invocation.
CENTRAL_BATCH=4 CENTRAL_ROUND_STEPS=1000
CENTRAL=(--task=shakespeare_char --optimizer=sgd --learning_rate=1
         --batch_size=$CENTRAL_BATCH --steps_per_eval=$CENTRAL_ROUND_STEPS
         --clients_per_eval=100
         --data_seed=0 --model_seed=0 --progress_bar=false
         --root_output_dir="$OUT" --experiment_name=centralized)
# The snippets below import TF for one library call; keep its start-up noise out.
quiet_tf() { TF_CPP_MIN_LOG_LEVEL=3 "$@"; }
centralized_done() {
  [ -f "$OUT/centralized/final_metrics.json" ] && quiet_tf "$PY" - "$OUT" <<'PYTHON'
import json, sys
from tff_lstm.training import centralized
out = sys.argv[1]
with open(f'{out}/centralized/final_metrics.json') as f:
  seen = json.load(f)['examples_seen']
sys.exit(seen < centralized.federated_examples_seen(f'{out}/fedavg'))
PYTHON
}
centralized() {
  if centralized_done; then
    echo "centralized: finished earlier (delete $OUT/centralized to redo it)"
    return 0
  fi
  local status=0
  timeout -s TERM "$BUDGET" "$PY" experiments/run_centralized.py \
      "${CENTRAL[@]}" --match_examples_of="$OUT/fedavg" || status=$?
  [ "$status" -eq 0 ] && return 0
  [ "$status" -eq 124 ] || return "$status"
  local last
  last=$(quiet_tf "$PY" -c 'import sys
from tff_lstm.training import centralized
print(centralized.latest_checkpoint_round(sys.argv[1]))' "$OUT/centralized")
  if [ "$last" = 0 ]; then
    echo "centralized: reached no checkpoint in ${BUDGET}s" >&2
    return 1
  fi
  echo "centralized: stopped by its ${BUDGET}s budget; final evaluation at round $last"
  "$PY" experiments/run_centralized.py "${CENTRAL[@]}" \
      --max_examples_seen=$((last * CENTRAL_ROUND_STEPS * CENTRAL_BATCH))
}
CENTRALIZED_STARTED=$([ -d "$OUT/centralized" ] && echo 1 || echo 0)
if training centralized && [ "$CENTRALIZED_STARTED" = 1 ]; then
  centralized
fi
for name in "${METHODS[@]}"; do
  training "$name" || continue
  # shellcheck disable=SC2086
  budgeted_run "$name" "$BUDGET" "$ROUNDS" "${COMMON[@]}" "${PLAIN[@]}" \
      ${SERVER[$name]}
done
if training centralized && [ "$CENTRALIZED_STARTED" = 0 ]; then
  centralized
fi
for name in "${DP_RUNS[@]}"; do
  training "$name" || continue
  # shellcheck disable=SC2086
  budgeted_run "$name" "$DP_BUDGET" "$ROUNDS" "${COMMON[@]}" \
      --server_optimizer=sgd --server_learning_rate=1 \
      --client_weighting=uniform --dp_mechanism=gaussian_adaptive ${DP[$name]}
done

# Record what this invocation has (per-round CSVs, final metrics) ...
mkdir -p "$RESULTS"
ALL=("${METHODS[@]}" centralized "${DP_RUNS[@]}")
for name in "${ALL[@]}"; do
  [ -f "$OUT/$name/metrics.csv" ] || continue
  cp "$OUT/$name/metrics.csv" "$RESULTS/$name.metrics.csv"
  # A run stopped mid-way has no final evaluation yet.
  if [ -f "$OUT/$name/final_metrics.json" ]; then
    cp "$OUT/$name/final_metrics.json" "$RESULTS/$name.final_metrics.json"
  fi
done
# ... and build tables and plots from the recorded files, so they also cover
# runs recorded by an earlier invocation whose outputs are gone.
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
for name in "${ALL[@]}"; do
  [ -f "$RESULTS/$name.metrics.csv" ] || continue
  mkdir "$STAGE/$name"
  cp "$RESULTS/$name.metrics.csv" "$STAGE/$name/metrics.csv"
  if [ -f "$RESULTS/$name.final_metrics.json" ]; then
    cp "$RESULTS/$name.final_metrics.json" "$STAGE/$name/final_metrics.json"
  fi
done
declare -A LABEL=([fedavg]=FedAvg [fedavgm]=FedAvgM [fedadam]=FedAdam
  [fedyogi]=FedYogi [centralized]="centralized (SGD)"
  [dp_fedavg_z0.1]="DP-FedAvg z=0.1" [dp_fedavg_z0.3]="DP-FedAvg z=0.3")
# study OUTPUT_STEM AT_ROUNDS NAME...: table and plot of the recorded NAMEs.
study() {
  local stem=$1 at=$2 dirs=() labels=() plot_dirs=() plot_labels=()
  shift 2
  for name in "$@"; do
    [ -d "$STAGE/$name" ] || continue
    dirs+=("$STAGE/$name"); labels+=("${LABEL[$name]}")
    # Plots are accuracy vs round: the centralized run has steps, not rounds.
    [ "$name" = centralized ] && continue
    plot_dirs+=("$STAGE/$name"); plot_labels+=("${LABEL[$name]}")
  done
  [ ${#dirs[@]} -gt 0 ] || return 0
  local IFS=,
  $PY experiments/summarize_runs.py --target_accuracy=0.54 \
      --mean_last_rounds=100 --at_rounds="$at" \
      --experiment_dirs="${dirs[*]}" --labels="${labels[*]}" \
      --output="$RESULTS/${stem}_table.md"
  $PY experiments/plot_metrics.py --output="$RESULTS/${stem}_accuracy.png" \
      --experiment_dirs="${plot_dirs[*]}" --labels="${plot_labels[*]}"
}
# inline STEM: copies STEM_table.md into README.md between its markers
# (<!-- STEM_table ... --> and <!-- /STEM_table -->), where the README has them.
inline() {
  "$PY" - "$RESULTS/README.md" "$RESULTS/${1}_table.md" "${1}_table" <<'PYTHON'
import pathlib, sys
readme, table, name = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
text = readme.read_text()
start, end = f'<!-- {name}', f'<!-- /{name} -->'
if start in text and end in text:
  head, rest = text.split(start, 1)
  marker, _ = rest.split('\n', 1)
  _, tail = rest.split(end, 1)
  readme.write_text(head + start + marker + '\n' + table.read_text().strip()
                    + '\n' + end + tail)
PYTHON
}
study fedopt 100,200,400,800,1200 "${METHODS[@]}" centralized
inline fedopt
# The DP study compares against FedAvg, so it needs a DP run to show.
if ls "$RESULTS"/dp_fedavg_*.metrics.csv > /dev/null 2>&1; then
  study dp 40,100,400,800,1200 fedavg "${DP_RUNS[@]}"
  inline dp
fi
