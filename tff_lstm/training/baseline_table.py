"""Trained runs against naive baselines: one markdown table per results page.

Reads each run's recorded `final_test` (final_metrics.json: the full test
split) and a baselines JSON (experiments/naive_baselines.py, scored on the
same split), so every number comes from files a results page commits. A
forecast is scored by MAE and RMSE in the data's own units (lower is
better), a classifier by accuracy; each trained run is marked by whether it
beats the best baseline on the headline metric. No TensorFlow: quick.
"""

import os
from collections.abc import Sequence

from tff_lstm.training import layout
from tff_lstm.training import metrics_files

FORECAST_METRICS = ('mean_absolute_error', 'root_mean_squared_error', 'loss')
CLASSIFY_METRICS = ('accuracy', 'loss')
METHODS = (('fedavg', 'FedAvg'), ('fedadam', 'FedAdam'),
           ('centralized', 'centralized'))
_BASELINE_LABELS = {'naive': 'naive (last reading)',
                    'majority_class': 'majority class'}


def read_baselines(path: str) -> dict[str, dict[str, float]]:
  value = metrics_files.read_json(path)
  if not value:
    raise metrics_files.MetricsFileError(f'{path}: no baselines recorded.')
  return value


def baseline_label(name: str) -> str:
  if name.startswith('seasonal_naive_'):
    return f'seasonal naive ({name.rsplit("_", 1)[1]} readings back)'
  return _BASELINE_LABELS.get(name, name)


def is_forecast(baselines: dict[str, dict[str, float]]) -> bool:
  return 'naive' in baselines


def reference_lines(baselines: dict[str, dict[str, float]]) -> list[str]:
  """'VALUE|LABEL' for plot_metrics --reference, on the headline metric.

  The best baseline only: a far worse one (a seasonal-naive forecast of
  prices, say) would squash the axis the runs are compared on; the table
  has them all.
  """
  forecast = is_forecast(baselines)
  metric = 'mean_absolute_error' if forecast else 'accuracy'
  name, values = (min if forecast else max)(
      baselines.items(), key=lambda item: item[1][metric])
  return [f'{values[metric]:.6g}|{baseline_label(name)}, same test split']


def _cell(value) -> str:
  return '' if value is None else f'{value:.4g}'


def workload_table(results_dir: str, workload: str) -> list[str]:
  """Markdown rows of one workload: its runs, then its baselines."""
  baselines = read_baselines(os.path.join(results_dir,
                                          f'{workload}.baselines.json'))
  forecast = is_forecast(baselines)
  metrics = FORECAST_METRICS if forecast else CLASSIFY_METRICS
  headline = metrics[0]
  best = (min if forecast else max)(
      values[headline] for values in baselines.values())
  lines = [f'### {workload}', '',
           '| run | ' + ' | '.join(m.replace('_', ' ') for m in metrics)
           + ' | beats the best baseline? |',
           '|---|' + '---|' * (len(metrics) + 1)]
  for name, label in METHODS:
    files = metrics_files.recorded_files(results_dir, f'{workload}_{name}')
    final = metrics_files.read_json(files.final_metrics_json)
    if final is None:
      raise metrics_files.MetricsFileError(
          f'{files.final_metrics_json}: no such file (run run.sh first).')
    test = final.get(layout.FULL_TEST_KEY)
    if test is None:
      raise metrics_files.MetricsFileError(
          f'{files.final_metrics_json}: no full-test-split metrics (the run '
          'evaluated its final model on a sample of test clients, '
          '--final_eval_clients); the baselines are scored on the full split.')
    value = test[headline]
    beats = value < best if forecast else value > best
    lines.append(f'| {label} | ' + ' | '.join(_cell(test.get(m))
                                             for m in metrics)
                 + f' | {"yes" if beats else "**no**"} |')
  for name, values in baselines.items():
    lines.append(f'| {baseline_label(name)} | ' + ' | '.join(
        _cell(values.get(m)) for m in metrics) + ' | (baseline) |')
  return lines + ['']


def tables(results_dir: str, workloads: Sequence[str]) -> str:
  out = []
  for workload in workloads:
    out += workload_table(results_dir, workload)
  return '\n'.join(out)
