"""Labelled signals from the UCR archive copy in the `aeon` wheel, federated.

ItalyPowerDemand (energy): 1,096 days of Italy's electrical power demand, 24
hourly readings each (z-normalized per day by the archive), labelled by season:
0 = October-March, 1 = April-September (the archive's classes 1 and 2). The
archive gives no date, place or meter, so there is no natural client: the
days (the archive's train and test sets pooled) are dealt to `NUM_CLIENTS`
clients by a seeded permutation (a synthetic, IID partition), and each
client's later 20% are its test split (`splits.split_later`).

Read from the wheel's .ts file without importing aeon, and written as a
`SqlClientData` database of {'values': float32[24], 'label': int64}.
"""

import hashlib
import os
from typing import Optional

from absl import logging
import numpy as np

from tff_lstm.data import example_proto
from tff_lstm.data import paths
from tff_lstm.data import public_series
from tff_lstm.data import splits
from tff_lstm.data import sql_writer

BUILDER = 'tff_lstm.data.signal_sets'
BUILDER_VERSION = '1'
PACKAGE, VERSION = 'aeon', '1.6.0'
_DIR = 'aeon/datasets/data/ItalyPowerDemand/'
FILES = (_DIR + 'ItalyPowerDemand_TRAIN.ts', _DIR + 'ItalyPowerDemand_TEST.ts')
DATABASE_FILENAME = 'italy_power_demand.sqlite'
NUM_CLIENTS = 20
PARTITION_SEED = 0
LENGTH = 24
LABEL_NAMES = ('october_march', 'april_september')


def parse_ts(data: bytes, name: str) -> list[tuple[list[float], str]]:
  """A univariate, equal-length UCR .ts file -> [(values, class label)]."""
  examples, in_data = [], False
  for number, line in enumerate(data.decode('utf-8').splitlines(), start=1):
    line = line.strip()
    if not line or line.startswith('#'):
      continue
    if not in_data:
      in_data = line.lower() == '@data'
      continue
    series, sep, label = line.rpartition(':')
    if not sep or ':' in series:
      raise ValueError(f'{name}, line {number}: expected one univariate '
                       'series and a label, "v1,v2,...:label".')
    values = [float(v) for v in series.split(',')]
    if not all(np.isfinite(values)):
      raise ValueError(f'{name}, line {number}: a reading is not finite.')
    examples.append((values, label.strip()))
  return examples


def read_days() -> list[tuple[list[float], int]]:
  """Every day of the wheel's train and test files, labels numbered 0, 1."""
  days = []
  for file in FILES:
    for values, label in parse_ts(
        public_series.read_wheel_file(PACKAGE, VERSION, file), file):
      if len(values) != LENGTH or label not in ('1', '2'):
        raise ValueError(f'{file}: expected {LENGTH} readings and class 1 or '
                         f'2, got {len(values)} and {label!r}.')
      days.append((values, int(label) - 1))
  return days


def partition(num_examples: int, num_clients: int = NUM_CLIENTS,
              seed: int = PARTITION_SEED) -> list[list[int]]:
  """Example indices of each client: a seeded permutation dealt in turn."""
  order = np.random.default_rng(seed).permutation(num_examples)
  return [sorted(order[c::num_clients].tolist()) for c in range(num_clients)]


def database_path(cache_dir: Optional[str] = None) -> str:
  return os.path.join(paths.resolve_cache_dir(cache_dir), DATABASE_FILENAME)


def ensure_italy_power_database(cache_dir: Optional[str] = None,
                                force: bool = False) -> str:
  """Builds the federated ItalyPowerDemand database unless it is current."""
  path = database_path(cache_dir)
  existing = sql_writer.check_replaceable(path, BUILDER)
  days = read_days()
  digest = hashlib.sha256(repr(days).encode()).hexdigest()
  expected = {'builder': BUILDER, 'builder_version': BUILDER_VERSION,
              'source': f'{PACKAGE}=={VERSION}', 'source_sha256': digest,
              'num_clients': str(NUM_CLIENTS),
              'partition_seed': str(PARTITION_SEED),
              'label_names': ','.join(LABEL_NAMES)}
  if not force and existing is not None and all(
      existing.get(k) == v for k, v in expected.items()):
    return path
  rows = []
  for c, indices in enumerate(partition(len(days))):
    client_id = f'part_{c:02d}'
    train, test = splits.split_later(indices)
    for split_name, part in (('train', train), ('test', test)):
      rows.extend((split_name, client_id, example_proto.encode_example(
          {'values': [float(v) for v in days[i][0]], 'label': days[i][1]}))
                  for i in part)
  sql_writer.write_database(path, rows, expected)
  logging.info('Wrote %d ItalyPowerDemand days in %d clients to %s.',
               len(days), NUM_CLIENTS, path)
  return path


def load_client_data(path: str):
  """(train, test) ClientData of {'values': [24], 'label': ()}."""
  import collections  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_federated as tff  # pylint: disable=g-import-not-at-top
  spec = collections.OrderedDict(
      values=tf.TensorSpec((LENGTH,), tf.float32),
      label=tf.TensorSpec((), tf.int64))
  return tuple(tff.simulation.datasets.load_and_parse_sql_client_data(
      path, spec, split_name=s) for s in ('train', 'test'))
