"""Reading a run's recorded metrics: its experiment dir, or its copies in results/.

A run's outputs live in an experiment dir (metrics.csv, final_metrics.json,
hparams.json); results/ keeps copies named after the run (NAME.metrics.csv,
NAME.final_metrics.json, NAME.hparams.json; layout.py names them all). Tables,
plots and the recording check read either form the same way, so a results
page can be rebuilt from what it has committed, without the (uncommitted)
experiment dirs. Needs no
TensorFlow, so the tools built on it start quickly.
"""

import csv
import dataclasses
import json
import math
import os
from typing import Any, Optional

from tff_lstm.training import layout

ACCURACY = 'evaluation/test/accuracy'
LOSS = 'evaluation/test/loss'
# Centralized runs record the examples seen; federated runs, each round's.
EXAMPLES_SEEN = 'examples_seen'
FEDERATED_EXAMPLES = 'client_work/train/num_examples'


class MetricsFileError(ValueError):
  """A run's files are missing, or lack what was asked of them."""


@dataclasses.dataclass(frozen=True)
class RunFiles:
  """Where one run's files are, whichever form it is kept in."""

  name: str  # the dir's name, or NAME of NAME.metrics.csv
  where: str  # what messages call it: the dir, or the .metrics.csv path
  metrics_csv: str
  final_metrics_json: str
  hparams_json: str


def experiment_files(exp_dir: str) -> RunFiles:
  return RunFiles(os.path.basename(os.path.normpath(exp_dir)), exp_dir,
                  os.path.join(exp_dir, layout.METRICS_CSV),
                  os.path.join(exp_dir, layout.FINAL_METRICS_JSON),
                  os.path.join(exp_dir, layout.HPARAMS_JSON))


def recorded_files(results_dir: str, name: str) -> RunFiles:
  """The copies of run `name` in `results_dir` (they need not exist)."""
  paths = {key: os.path.join(results_dir, name + suffix)
           for key, suffix in layout.RECORDED_SUFFIXES.items()}
  return RunFiles(name, paths[layout.METRICS_CSV], paths[layout.METRICS_CSV],
                  paths[layout.FINAL_METRICS_JSON], paths[layout.HPARAMS_JSON])


def locate(path: str) -> RunFiles:
  """An experiment dir, or a recorded NAME.metrics.csv, as RunFiles."""
  suffix = layout.RECORDED_SUFFIXES[layout.METRICS_CSV]
  if path.endswith(suffix) and not os.path.isdir(path):
    directory, base = os.path.split(path)
    return recorded_files(directory, base[:-len(suffix)])
  if os.path.isfile(path):
    raise MetricsFileError(
        f'{path}: not an experiment dir or a recorded NAME{suffix} file.')
  return experiment_files(path)


def read_rows(files: RunFiles) -> list[dict[str, str]]:
  """metrics.csv's rows in round order."""
  if not os.path.isfile(files.metrics_csv):
    raise MetricsFileError(
        f'{files.where}: no {layout.METRICS_CSV} (not an experiment dir, or it '
        'has not finished a round yet).' if files.where != files.metrics_csv
        else f'{files.where}: no such file.')
  with open(files.metrics_csv, newline='') as f:
    reader = csv.DictReader(f)
    fieldnames, rows = reader.fieldnames or [], list(reader)
  if layout.ROUND_KEY not in fieldnames:
    raise MetricsFileError(
        f'{files.metrics_csv} has no {layout.ROUND_KEY!r} column.')
  try:
    rows.sort(key=lambda row: int(row[layout.ROUND_KEY]))
  except (TypeError, ValueError) as e:
    raise MetricsFileError(
        f'{files.metrics_csv}: a {layout.ROUND_KEY!r} value is not a whole '
        f'number ({e}).') from None
  return rows


def read_json(path: str) -> Optional[dict[str, Any]]:
  """The JSON object at `path`, or None when there is no file."""
  if not os.path.isfile(path):
    return None
  try:
    with open(path) as f:
      value = json.load(f)
  except ValueError as e:
    raise MetricsFileError(f'{path}: not valid JSON ({e}).') from None
  if not isinstance(value, dict):
    raise MetricsFileError(f'{path}: expected a JSON object.')
  return value


def number(text: Optional[str]) -> float:
  """A CSV cell as a float; empty or absent cells are NaN."""
  return float(text) if text else math.nan


def last_round(rows: list[dict[str, str]]) -> int:
  return int(rows[-1][layout.ROUND_KEY]) if rows else 0


def examples_seen(rows: list[dict[str, str]], files: RunFiles) -> list[float]:
  """Examples seen by the end of each row's round."""
  if rows and EXAMPLES_SEEN in rows[0]:
    return [number(row.get(EXAMPLES_SEEN)) for row in rows]
  if rows and FEDERATED_EXAMPLES in rows[0]:
    seen, total = [], 0.0
    for row in rows:
      total += number(row.get(FEDERATED_EXAMPLES)) if row.get(
          FEDERATED_EXAMPLES) else 0.0
      seen.append(total)
    return seen
  raise MetricsFileError(
      f'{files.where}: metrics.csv has neither an {EXAMPLES_SEEN} nor a '
      f'{FEDERATED_EXAMPLES} column; use --x_axis=round.')


def recorded_metrics(rows: list[dict[str, str]]) -> list[str]:
  """The metric columns of a metrics.csv (every column but the round)."""
  return sorted(k for k in (rows[0] if rows else {}) if k != layout.ROUND_KEY)


def require_metric(rows: list[dict[str, str]], files: RunFiles,
                   metric: str) -> None:
  """Refuses, naming the run and listing what it has, a metric it lacks."""
  if not rows or metric not in rows[0]:
    have = recorded_metrics(rows)
    raise MetricsFileError(
        f'{files.where} did not record {metric!r}; its metrics.csv has '
        + (', '.join(have) if have else 'no metric columns') + '.')
  if not any(row.get(metric) for row in rows):
    raise MetricsFileError(
        f'{files.where}: {metric!r} is a column of its metrics.csv but has '
        'no values.')
