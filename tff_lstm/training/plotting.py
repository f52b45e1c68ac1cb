"""Test accuracy and loss curves of experiment dirs, side by side in one PNG.

Reads only metrics.csv, so federated and centralized runs plot together; with
x_axis='examples_seen' they share an axis (federated runs: the running sum of
client_work/train/num_examples). Needs no TensorFlow, so plotting is quick.
"""

import csv
import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Optional

import matplotlib
matplotlib.use('Agg')  # files only; never a display
from matplotlib import figure  # pylint: disable=g-import-not-at-top

# outputs.METRICS_CSV and ROUND_KEY, without importing TFF for them.
METRICS_CSV = 'metrics.csv'
ROUND_KEY = 'round'
ACCURACY = 'evaluation/test/accuracy'
LOSS = 'evaluation/test/loss'
EXAMPLES_SEEN = 'examples_seen'
FEDERATED_EXAMPLES = 'client_work/train/num_examples'
X_AXES = ('round', 'examples_seen')


class PlotDataError(ValueError):
  """An experiment dir has nothing to plot."""


@dataclasses.dataclass(frozen=True)
class Curves:
  """One run's evaluated points: x, test accuracy, test loss (NaN: absent)."""

  label: str
  x: list[float]
  accuracy: list[float]
  loss: list[float]


def _value(row: dict[str, str], column: str) -> float:
  text = row.get(column)
  return float(text) if text else math.nan


def _examples_seen(rows: list[dict[str, str]], exp_dir: str) -> list[float]:
  """Examples seen by the end of each row's round."""
  if EXAMPLES_SEEN in rows[0]:
    return [_value(row, EXAMPLES_SEEN) for row in rows]
  if FEDERATED_EXAMPLES in rows[0]:
    seen, total = [], 0.0
    for row in rows:
      total += _value(row, FEDERATED_EXAMPLES) if row.get(
          FEDERATED_EXAMPLES) else 0.0
      seen.append(total)
    return seen
  raise PlotDataError(f'{exp_dir}: metrics.csv has neither an {EXAMPLES_SEEN} '
                      f'nor a {FEDERATED_EXAMPLES} column; use '
                      '--x_axis=round.')


def read_curves(exp_dir: str, x_axis: str = 'round',
                label: Optional[str] = None) -> Curves:
  """Evaluated rounds of `exp_dir`; rows without test metrics are left out."""
  if x_axis not in X_AXES:
    raise ValueError(f'x_axis must be one of {", ".join(X_AXES)}, got '
                     f'{x_axis!r}.')
  path = os.path.join(exp_dir, METRICS_CSV)
  if not os.path.isfile(path):
    raise PlotDataError(f'{exp_dir}: no {METRICS_CSV} (not an experiment dir, '
                        'or it has not finished a round yet).')
  with open(path, newline='') as f:
    rows = list(csv.DictReader(f))
  if rows and ROUND_KEY not in rows[0]:
    raise PlotDataError(f'{path} has no {ROUND_KEY!r} column.')
  rows.sort(key=lambda row: int(row[ROUND_KEY]))
  if x_axis == 'round':
    xs = [float(row[ROUND_KEY]) for row in rows]
  else:
    xs = _examples_seen(rows, exp_dir) if rows else []
  curves = Curves(label or os.path.basename(os.path.normpath(exp_dir)),
                  [], [], [])
  for x, row in zip(xs, rows):
    if row.get(ACCURACY) or row.get(LOSS):
      curves.x.append(x)
      curves.accuracy.append(_value(row, ACCURACY))
      curves.loss.append(_value(row, LOSS))
  if not curves.x:
    raise PlotDataError(f'{exp_dir}: {METRICS_CSV} has no evaluation rows '
                        f'(no {ACCURACY} or {LOSS} values).')
  return curves


def plot_curves(runs: Sequence[Curves], output: str,
                x_axis: str = 'round') -> str:
  """Writes test accuracy (left) and test loss (right) of `runs` to `output`."""
  fig = figure.Figure(figsize=(11, 4.5), layout='constrained')
  acc_ax, loss_ax = fig.subplots(1, 2)
  for run in runs:
    acc_ax.plot(run.x, run.accuracy, marker='.', label=run.label)
    loss_ax.plot(run.x, run.loss, marker='.', label=run.label)
  for ax, title in ((acc_ax, 'test accuracy'), (loss_ax, 'test loss')):
    ax.set_title(title)
    ax.set_xlabel(x_axis.replace('_', ' '))
    ax.grid(True, alpha=0.3)
    ax.legend()
  parent = os.path.dirname(os.path.abspath(output))
  os.makedirs(parent, exist_ok=True)
  fig.savefig(output, format='png', dpi=100)
  return output


def plot_experiments(exp_dirs: Sequence[str], output: str,
                     labels: Optional[Sequence[str]] = None,
                     x_axis: str = 'round') -> str:
  """Reads every dir first, so a bad one fails before anything is written."""
  if not exp_dirs:
    raise ValueError('Give at least one experiment dir.')
  if labels and len(labels) != len(exp_dirs):
    raise ValueError(f'{len(labels)} labels for {len(exp_dirs)} experiment '
                     'dirs; give one label per dir.')
  labels = labels or [None] * len(exp_dirs)
  runs = [read_curves(d, x_axis, label) for d, label in zip(exp_dirs, labels)]
  return plot_curves(runs, output, x_axis)
