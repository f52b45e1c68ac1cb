"""Records finished runs in a results dir, refusing to lose a recorded one.

  .venv/bin/python experiments/record_runs.py --runs_dir=runs/reproductions \
      --results_dir=results/reproductions --names=fedavg,fedadam

Copies each <runs_dir>/NAME's metrics.csv, final_metrics.json and hparams.json
to <results_dir>/NAME.*, where results/ pages draw their tables and plots from.
A partial run, or one that would replace a recorded run with fewer rounds or
another configuration, is refused with one line naming both, and then nothing
is written (exit status 2). A NAME with no run under --runs_dir keeps what is
recorded.
"""

import sys

from absl import app
from absl import flags

from tff_lstm.training import metrics_files
from tff_lstm.training import recorded_runs

_RUNS_DIR = flags.DEFINE_string(
    'runs_dir', None, 'Where the experiment dirs are (a script\'s $OUT).')
_RESULTS_DIR = flags.DEFINE_string(
    'results_dir', None, 'The results dir to record them in.')
_NAMES = flags.DEFINE_list('names', None, 'Experiment names to record.')
flags.mark_flags_as_required(['runs_dir', 'results_dir', 'names'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runs = [(f'{_RUNS_DIR.value.rstrip("/")}/{name}', name)
          for name in _NAMES.value]
  try:
    report = recorded_runs.record(runs, _RESULTS_DIR.value.rstrip('/'))
  except (recorded_runs.RecordRefusedError,
          metrics_files.MetricsFileError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  for line in report:
    print(line)
  return 0


if __name__ == '__main__':
  app.run(main)
