# Sourced by every results/*/run.sh: the clone, its Python, and recording.
#
# Any clone, from any working directory: REPO_ROOT is the clone this file is
# in, the script runs from there, and PYTHONPATH puts that clone's tff_lstm
# first (so a Python whose site-packages has another clone installed still
# runs this one's code). PY defaults to REPO_ROOT/.venv/bin/python (what
# `make setup` builds); set PY=... to use another interpreter.

_caller_pwd=$PWD
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${PY:-}" ]; then
  PY=$REPO_ROOT/.venv/bin/python
elif [[ $PY != */* ]]; then
  PY=$(command -v "$PY" || echo "$PY")
elif [[ $PY != /* ]]; then
  PY=$_caller_pwd/$PY
fi
if ! [ -x "$PY" ]; then
  echo "results: no Python at PY=$PY: run 'make setup' in $REPO_ROOT, or set PY=/path/to/python" >&2
  exit 2
fi
cd "$REPO_ROOT"
export PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}"

# record_runs RESULTS_DIR NAME...: copies each finished $OUT/NAME into
# RESULTS_DIR (NAME.metrics.csv, .final_metrics.json, .hparams.json). A
# partial run, or one that would replace a recorded run by fewer rounds or
# another configuration, stops the script (exit 2) with one line naming
# both, before any file is written; a NAME with no run under $OUT keeps what
# is recorded. See tff_lstm/training/recorded_runs.py.
record_runs() {
  local results=$1
  shift
  local IFS=,
  TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3} "$PY" \
      experiments/record_runs.py --runs_dir="$OUT" --results_dir="$results" \
      --names="$*"
}

# run_presets NAME...: trains each method from its presets,
# $RESULTS/flags/common.flags then $RESULTS/flags/NAME.flags, into $OUT/NAME.
run_presets() {
  local name
  for name in "$@"; do
    "$PY" experiments/run_federated.py --flagfile="$RESULTS/flags/common.flags" \
        --flagfile="$RESULTS/flags/$name.flags" --root_output_dir="$OUT" \
        --experiment_name="$name"
  done
}
