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
# Each method's flags are a preset in flags/ (common.flags, then <method>.flags;
# the centralized baseline's centralized.flags alone), read with absl's
# --flagfile.
#
# Then every run that finished is recorded here, but never over a recorded run
# it falls short of (fewer rounds or examples, other settings) and never a
# partial one: that stops the script with one line naming both, before any
# file, table or plot is written (results/common.sh: record_runs). The tables
# and plots are drawn from the recorded files.
set -euo pipefail
# shellcheck source=../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
BUDGET=${BUDGET:-7200}
DP_BUDGET=${DP_BUDGET:-$BUDGET}
ROUNDS=${ROUNDS:-1200}
OUT=${OUT:-runs/reproductions}
RESULTS=results/reproductions
# shellcheck source=../../tools/budgeted_run.sh
source tools/budgeted_run.sh

# Reddi et al.'s methods, each with its best hyperparameters (flags/*.flags).
METHODS=(fedavg fedavgm fedadam fedyogi)
# Andrew et al. 2021: adaptive clip towards the median update norm. Two noise
# multipliers at this cohort size.
DP_RUNS=(dp_fedavg_z0.1 dp_fedavg_z0.3)
TRAIN=${TRAIN:-"${METHODS[*]} centralized ${DP_RUNS[*]}"}
training() { [[ " $TRAIN " == *" $1 "* ]]; }

# Centralized: the same Keras model on all training clients pooled, SGD at the
# clients' learning rate and batch size, for as many examples as FedAvg had
# seen when it started (its hparams hold that budget). So a started run is
# continued before FedAvg trains on, and a new one starts after FedAvg. Like a
# federated run, one stopped by its budget is evaluated at its last checkpoint
# (a round is CENTRAL_ROUND_STEPS steps) and continues on the next invocation.
# flags/centralized.flags gives the same --batch_size and --steps_per_eval.
CENTRAL_BATCH=4 CENTRAL_ROUND_STEPS=1000
CENTRAL=(--flagfile=$RESULTS/flags/centralized.flags --root_output_dir="$OUT"
         --experiment_name=centralized)
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
print(centralized.latest_model_checkpoint_round(sys.argv[1]))' "$OUT/centralized")
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
  budgeted_run "$name" "$BUDGET" "$ROUNDS" \
      --flagfile=$RESULTS/flags/common.flags \
      --flagfile=$RESULTS/flags/$name.flags --root_output_dir="$OUT"
done
if training centralized && [ "$CENTRALIZED_STARTED" = 0 ]; then
  centralized
fi
for name in "${DP_RUNS[@]}"; do
  training "$name" || continue
  budgeted_run "$name" "$DP_BUDGET" "$ROUNDS" \
      --flagfile=$RESULTS/flags/common.flags \
      --flagfile=$RESULTS/flags/$name.flags --root_output_dir="$OUT"
done

# Record the runs that finished (refusing, and stopping here, rather than
# lose a recorded run) ...
ALL=("${METHODS[@]}" centralized "${DP_RUNS[@]}")
record_runs "$RESULTS" "${ALL[@]}"
# ... and build tables and plots from the recorded files, so they also cover
# runs recorded by an earlier invocation whose outputs are gone.
declare -A LABEL=([fedavg]=FedAvg [fedavgm]=FedAvgM [fedadam]=FedAdam
  [fedyogi]=FedYogi [centralized]="centralized (SGD)"
  [dp_fedavg_z0.1]="DP-FedAvg z=0.1" [dp_fedavg_z0.3]="DP-FedAvg z=0.3")
# table STEM AT_ROUNDS NAME...: the table of the recorded NAMEs.
table() {
  local stem=$1 at=$2 files=() labels=()
  shift 2
  for name in "$@"; do
    [ -f "$RESULTS/$name.metrics.csv" ] || continue
    files+=("$RESULTS/$name.metrics.csv"); labels+=("${LABEL[$name]}")
  done
  [ ${#files[@]} -gt 0 ] || return 0
  local IFS=,
  "$PY" experiments/summarize_runs.py --target_accuracy=0.54 \
      --mean_last_rounds=100 --at_rounds="$at" \
      --experiment_dirs="${files[*]}" --labels="${labels[*]}" \
      --output="$RESULTS/${stem}_table.md"
}
# recorded PLOT NAME...: whether every NAME is recorded (else says so).
recorded() {
  local plot=$1
  shift
  for name in "$@"; do
    if ! [ -f "$RESULTS/$name.metrics.csv" ]; then
      echo "$plot: not drawn, $RESULTS/$name.metrics.csv is not recorded yet"
      return 1
    fi
  done
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
R=results/reproductions
table fedopt 100,200,400,800,1200 "${METHODS[@]}" centralized
inline fedopt
# The plots; README.md gives the same commands. The paper's numbers are
# Reddi et al. 2021, Table 1 (mean test accuracy over the last 100 of 1,200
# rounds, on TFF's test split).
if recorded fedopt_accuracy.png "${METHODS[@]}" centralized; then
  "$PY" experiments/plot_metrics.py --x_axis=examples_seen --round_axis \
      --experiment_dirs=$R/fedavg.metrics.csv,$R/fedavgm.metrics.csv,$R/fedadam.metrics.csv,$R/fedyogi.metrics.csv,$R/centralized.metrics.csv \
      --labels="FedAvg,FedAvgM,FedAdam,FedYogi,centralized (SGD)" \
      --metrics=evaluation/test/accuracy \
      --ylabels="test accuracy (100-client sample)" --tail_from=300000 \
      --reference="0.569|paper (Reddi et al. 2021): FedAvg 56.9 %|FedAvg" \
      --reference="0.573|paper (Reddi et al. 2021): FedAvgM 57.3 %|FedAvgM" \
      --reference="0.570|paper (Reddi et al. 2021): FedAdam 57.0 %|FedAdam" \
      --reference="0.572|paper (Reddi et al. 2021): FedYogi 57.2 %|FedYogi" \
      --output=$R/fedopt_accuracy.png
fi
# The DP study compares against FedAvg, so it needs a DP run to show.
if ls "$RESULTS"/dp_fedavg_*.metrics.csv > /dev/null 2>&1; then
  table dp 40,100,400,800,1200 fedavg "${DP_RUNS[@]}"
  inline dp
fi
# Test loss clipped at 5: the diverged z = 0.3 run (loss 15) would flatten
# the others; its off-scale points are marked and counted on the panel.
if recorded dp_accuracy.png fedavg "${DP_RUNS[@]}"; then
  "$PY" experiments/plot_metrics.py \
      --experiment_dirs=$R/fedavg.metrics.csv,$R/dp_fedavg_z0.1.metrics.csv,$R/dp_fedavg_z0.3.metrics.csv \
      --labels="FedAvg (no DP),DP-FedAvg z=0.1,DP-FedAvg z=0.3" \
      --ylabels="test accuracy (100-client sample),test loss (100-client sample)" \
      --ylim=evaluation/test/loss=1:5 --output=$R/dp_accuracy.png
fi
