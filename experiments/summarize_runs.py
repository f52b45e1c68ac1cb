"""Markdown table of finished runs (for results/).

  .venv/bin/python experiments/summarize_runs.py \
      --experiment_dirs=runs/a/fedavg,runs/a/central --labels=FedAvg,central \
      --at_rounds=10,20 --output=results/a/table.md

Every figure comes from the runs' metrics.csv and final_metrics.json
(experiment dirs, or their recorded NAME.metrics.csv copies in results/).
"""

import sys

from absl import app
from absl import flags

from tff_lstm.training import plotting
from tff_lstm.training import summary

_EXPERIMENT_DIRS = flags.DEFINE_list(
    'experiment_dirs', None, 'Experiment dirs, or recorded NAME.metrics.csv '
    'files, one row each.')
_LABELS = flags.DEFINE_list('labels', None, 'Row labels (default: dir names).')
_AT_ROUNDS = flags.DEFINE_list('at_rounds', [],
                               'Rounds whose test accuracy gets a column.')
_METRIC = flags.DEFINE_string(
    'metric', plotting.ACCURACY, 'The metrics.csv column the table follows '
    '(e.g. evaluation/test/mean_absolute_error for a forecasting run).')
_TARGET = flags.DEFINE_float(
    'target', None, 'Also show the first evaluated round whose --metric '
    'reaches this value (>= for accuracies, <= for losses and errors), and '
    'training + eval hours.')
flags.DEFINE_alias('target_accuracy', 'target')
_MEAN_LAST_ROUNDS = flags.DEFINE_integer(
    'mean_last_rounds', None, 'Also show the mean of --metric over the '
    'evaluations in each run\'s last this many rounds (Reddi et al. 2021 '
    'report the last 100).')
_OUTPUT = flags.DEFINE_string('output', None,
                              'Markdown file to write (default: stdout only).')
flags.mark_flag_as_required('experiment_dirs')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  dirs = _EXPERIMENT_DIRS.value
  labels = _LABELS.value or [None] * len(dirs)
  if len(labels) != len(dirs):
    print(f'error: {len(labels)} --labels for {len(dirs)} --experiment_dirs',
          file=sys.stderr)
    return 2
  try:
    at_rounds = [int(r) for r in _AT_ROUNDS.value]
    rows = [summary.summarize_run(d, at_rounds, label, _TARGET.value,
                                  _MEAN_LAST_ROUNDS.value, _METRIC.value)
            for d, label in zip(dirs, labels)]
  except (ValueError, plotting.PlotDataError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  table = summary.markdown_table(rows, at_rounds)
  if _OUTPUT.value:
    with open(_OUTPUT.value, 'w') as f:
      f.write(table)
  print(table, end='')
  return 0


if __name__ == '__main__':
  app.run(main)
