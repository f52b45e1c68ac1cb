"""Scores naive baselines on a task's full test split, as JSON.

  .venv/bin/python experiments/naive_baselines.py --task=timeseries_forecast \
      --series=stocks --window=12 --seasons=12 --output=stocks.baselines.json

The same task flags as run_federated.py pick the same data and windows.
Forecasting: the naive forecast (last reading) and each seasonal-naive period
of --seasons, scored by the task's own metrics; classifying: the commonest
train label, scored by accuracy (tff_lstm/tasks/forecast_baselines.py). The
JSON holds {baseline: {metric: value}}, the form of a run's `final_test`, so
tables read both alike.
"""

import json
import os
import sys

from tff_lstm import runtime  # first: quiets TensorFlow before it is imported

# pylint: disable=g-bad-import-order
from absl import app
from absl import flags

from tff_lstm.data import sql_writer
from tff_lstm.tasks import forecast_baselines
from tff_lstm.tasks import task_flags
from tff_lstm.training import centralized

task_flags.define_task_flags()
flags.adopt_module_key_flags(task_flags)
_SEASONS = flags.DEFINE_list(
    'seasons', [], 'Seasonal-naive periods, in readings (each at most the '
    'window), e.g. 12 for a year of monthly readings.')
_OUTPUT = flags.DEFINE_string('output', None, 'JSON file to write.')
flags.mark_flag_as_required('output')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  runtime.quiet_logging(False)
  try:
    try:
      seasons = [int(s) for s in _SEASONS.value]
    except ValueError:
      raise ValueError(f'--seasons={",".join(_SEASONS.value)}: give whole '
                       'numbers of readings.') from None
    task = task_flags.create_task_from_flags(centralized.WINDOW_SPEC)
    if task.name == 'timeseries_forecast':
      results = forecast_baselines.evaluate_baselines(task, seasons)
    elif seasons:
      raise ValueError(f'--seasons: task {task.name!r} is not a forecast.')
    else:
      results = forecast_baselines.evaluate_majority_class(task)
  except (ValueError, FileNotFoundError,
          sql_writer.ForeignDatabaseError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  parent = os.path.dirname(os.path.abspath(_OUTPUT.value))
  os.makedirs(parent, exist_ok=True)
  with open(_OUTPUT.value, 'w') as f:
    json.dump(results, f, indent=2, sort_keys=True)
    f.write('\n')
  for name, values in results.items():
    print(name, ' '.join(f'{k}={v:.4g}' for k, v in values.items()))
  print(f'wrote {_OUTPUT.value}')
  return 0


if __name__ == '__main__':
  app.run(main)
