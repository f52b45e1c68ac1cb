"""Each client's scaling and usable windows, read from a `timeseries` database.

Forecasting learns nothing on raw readings whose scale differs by client (a
$500 share next to a $20 one) or is far from 1: one learning rate cannot suit
them. So each client's readings are standardized by the mean and standard
deviation of that client's *train* readings only, per value column. Fitted on
train only, the test readings never leak into the inputs; fitted per client,
no statistic leaves a client (federated statistics would need their own
aggregation round and would still mix scales across clients). A feature whose
train readings are constant has no spread to divide by: it is centred only
(scale 1, in the data's own units), and the client is named in a warning.

A window may not span a gap. A client's step is the median time between its
consecutive readings; two readings more than `GAP_FACTOR` steps apart are
separated by a gap (missing readings), and a window across it is dropped. Its
months of 28-31 days are one step; a sensor outage of an hour in 5-minute
readings is a gap. Clients with no gap-free window in a split are left out
of it, named in a warning.

Computed once, in Python, from the database's rows (no TensorFlow pass).
"""

import contextlib
import dataclasses
import os
import pathlib
import sqlite3

from absl import logging
import numpy as np

from tff_lstm.data import example_proto

GAP_FACTOR = 1.5


@dataclasses.dataclass(frozen=True)
class ClientSeries:
  """One client's readings, in time order, and what the task derives."""

  client_id: str
  train_timestamps: np.ndarray  # [n] int64
  train_values: np.ndarray  # [n, k] float64
  test_timestamps: np.ndarray
  test_values: np.ndarray
  center: np.ndarray  # [k]: train mean
  scale: np.ndarray  # [k]: train std, 1 where it is 0
  max_step: float  # largest gap-free spacing

  def constant_features(self) -> list[int]:
    return [i for i, s in enumerate(self.train_std()) if s == 0]

  def train_std(self) -> np.ndarray:
    return self.train_values.std(axis=0)


def read_series(database_path: str) -> dict[str, ClientSeries]:
  """client id -> its series, from an imported `timeseries` database."""
  uri = pathlib.Path(os.path.abspath(database_path)).as_uri() + '?mode=ro'
  rows = {}
  with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
    for split_name, client_id, proto in con.execute(
        'SELECT split_name, client_id, serialized_example_proto FROM examples'
        ' ORDER BY rowid'):
      example = example_proto.decode_example(proto)
      rows.setdefault(client_id, {'train': [], 'test': []})[split_name].append(
          (example['timestamp'][0], example['values']))
  series = {}
  for client_id in sorted(rows):
    parts = {}
    for split_name in ('train', 'test'):
      readings = sorted(rows[client_id][split_name], key=lambda r: r[0])
      parts[split_name] = (
          np.asarray([t for t, _ in readings], np.int64),
          np.asarray([v for _, v in readings], np.float64).reshape(
              len(readings), -1))
    series[client_id] = _derive(client_id, parts)
  return series


def _derive(client_id, parts) -> ClientSeries:
  (train_t, train_v), (test_t, test_v) = parts['train'], parts['test']
  std = train_v.std(axis=0) if len(train_v) else np.zeros(train_v.shape[1])
  center = train_v.mean(axis=0) if len(train_v) else np.zeros_like(std)
  steps = np.diff(np.concatenate([train_t, test_t]))
  step = float(np.median(steps)) if len(steps) else 1.0
  return ClientSeries(client_id, train_t, train_v, test_t, test_v, center,
                      np.where(std > 0, std, 1.0), GAP_FACTOR * step)


def gap_free(timestamps: np.ndarray, max_step: float) -> np.ndarray:
  """[n - 1] bool: is reading i+1 within one step of reading i."""
  return np.diff(timestamps) <= max_step


def num_windows(client: ClientSeries, window: int, split_name: str) -> int:
  """Gap-free windows of `window` readings and a target, as the task cuts.

  Test targets are test readings; their inputs may be train readings.
  """
  timestamps = np.concatenate([client.train_timestamps,
                               client.test_timestamps])
  ok = gap_free(timestamps, client.max_step).astype(np.int64)
  # Window ending at target j covers diffs j-window .. j-1.
  sums = np.concatenate([[0], np.cumsum(ok)])
  targets = (range(window, len(client.train_timestamps))
             if split_name == 'train' else
             range(max(window, len(client.train_timestamps)), len(timestamps)))
  return sum(1 for j in targets if sums[j] - sums[j - window] == window)


def usable_clients(series: dict[str, ClientSeries], window: int,
                   split_name: str) -> list[str]:
  """Clients with at least one window in `split_name`; logs the others."""
  kept, left_out = [], []
  for client_id, client in series.items():
    (kept if num_windows(client, window, split_name) else left_out).append(
        client_id)
  if left_out:
    logging.warning('%d clients have no gap-free window of %d readings and a '
                 'target in %s, and are left out of it: %s', len(left_out),
                 window, split_name, ', '.join(left_out[:10]) +
                 (' ...' if len(left_out) > 10 else ''))
  return kept


def warn_constant(series: dict[str, ClientSeries], client_ids) -> list[str]:
  """Names clients whose train split is constant in some feature."""
  constant = [c for c in client_ids if series[c].constant_features()]
  if constant:
    logging.warning(
        'Train readings are constant (zero variance) for %d clients, e.g. '
        '%s: those features are centred only, not scaled.', len(constant),
        ', '.join(constant[:5]))
  return constant
