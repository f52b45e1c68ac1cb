# Sourced by results/*/run.sh: one run_federated.py run under a wall-clock budget.
#
#   budgeted_run NAME BUDGET_SECONDS TOTAL_ROUNDS ARG...
#
# Trains NAME (under $OUT) towards TOTAL_ROUNDS, resuming from its last
# checkpoint when it exists. If BUDGET_SECONDS end first, the run gets SIGTERM
# (it exits cleanly and keeps its checkpoints) and is then finalized at its last
# checkpoint: --total_rounds=<that round> trains nothing and evaluates that model
# on the full test split. Rerunning the script later continues towards
# TOTAL_ROUNDS. Needs $OUT and $PY.

latest_checkpoint() {
  ls "$OUT/$1/checkpoints" 2>/dev/null \
    | sed -n 's/^program_state_\([0-9]*\)$/\1/p' | sort -n | tail -1
}

budgeted_run() {
  local name=$1 budget=$2 total=$3
  shift 3
  local status=0
  timeout -s TERM "$budget" "$PY" experiments/run_federated.py "$@" \
      --total_rounds="$total" --experiment_name="$name" || status=$?
  if [ "$status" -eq 0 ]; then
    return 0
  fi
  if [ "$status" -ne 124 ]; then
    echo "budgeted_run: $name failed (exit $status)" >&2
    return "$status"
  fi
  local last
  last=$(latest_checkpoint "$name")
  if [ -z "$last" ]; then
    echo "budgeted_run: $name reached no checkpoint in ${budget}s" >&2
    return 1
  fi
  echo "budgeted_run: $name stopped by its ${budget}s budget; final evaluation at round $last"
  "$PY" experiments/run_federated.py "$@" --total_rounds="$last" \
      --experiment_name="$name"
}
