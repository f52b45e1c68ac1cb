"""Real public data shipped in registry wheels, imported as user data sets.

So a user-data task runs out of the box: `timeseries_forecast` defaults to
the monthly stock prices in the `vega-datasets` wheel (client = ticker
symbol, one reading = one month's price). The wheel's CSV is read as a file,
never by importing the package (which needs pandas), converted to the
`timeseries` import format and written by `user_import.import_file`, so the
result is exactly what importing that CSV by hand gives.

No labelled text set is wired in; datasets/README.md says why.
"""

import hashlib
import importlib.metadata
import os
import tempfile
from typing import Optional

from absl import logging

from tff_lstm.data import paths
from tff_lstm.data import splits
from tff_lstm.data import sql_writer
from tff_lstm.data import user_import

STOCKS_PACKAGE = 'vega-datasets'
STOCKS_VERSION = '0.9.0'
STOCKS_FILE = 'vega_datasets/_data/stocks.csv'
STOCKS_DATABASE_FILENAME = 'stocks_timeseries.sqlite'
# The name import_file records as the source; fixed so rebuilds are equal.
_STOCKS_SOURCE_NAME = 'stocks_timeseries.csv'
# English month abbreviations, not strptime's %b, which follows the locale.
_MONTHS = {name: i + 1 for i, name in enumerate(
    'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split())}


def stocks_database_path(cache_dir: Optional[str] = None) -> str:
  return os.path.join(paths.resolve_cache_dir(cache_dir),
                      STOCKS_DATABASE_FILENAME)


def _read_stocks_csv() -> bytes:
  """The wheel's stocks.csv; an error says how to install the wheel."""
  try:
    dist = importlib.metadata.distribution(STOCKS_PACKAGE)
  except importlib.metadata.PackageNotFoundError:
    raise FileNotFoundError(
        f'The default time series needs {STOCKS_PACKAGE}: run `.venv/bin/pip '
        f'install --no-deps {STOCKS_PACKAGE}=={STOCKS_VERSION}` (it is in '
        'requirements/lock.txt), or pass --database_path.') from None
  with open(dist.locate_file(STOCKS_FILE), 'rb') as f:
    return f.read()


def _iso_date(text: str) -> str:
  """'Jan 1 2000' -> '2000-01-01'."""
  month, day, year = text.split()
  return f'{int(year):04d}-{_MONTHS[month]:02d}-{int(day):02d}'


def stocks_timeseries_csv(data: bytes) -> bytes:
  """`symbol,date,price` -> `client_id,timestamp,price` with ISO dates.

  ISO dates are what the import parses; they become Unix seconds at UTC
  midnight, so the conversion does not depend on the machine's zone.
  """
  lines = data.decode('utf-8').splitlines()
  if lines[0].strip() != 'symbol,date,price':
    raise ValueError(f'{STOCKS_FILE}: unexpected header {lines[0]!r}')
  out = ['client_id,timestamp,price']
  for line in lines[1:]:
    if line.strip():
      symbol, date, price = line.split(',')
      out.append(f'{symbol},{_iso_date(date)},{price}')
  return ('\n'.join(out) + '\n').encode('utf-8')


def _expected_build_info(converted: bytes) -> dict[str, str]:
  # The keys import_file records that determine the database's content.
  return {
      'builder': user_import.BUILDER,
      'builder_version': user_import.BUILDER_VERSION,
      'shape': 'timeseries',
      'source_name': _STOCKS_SOURCE_NAME,
      'source_sha256': hashlib.sha256(converted).hexdigest(),
      'test_fraction': str(splits.DEFAULT_TEST_FRACTION),
  }


def ensure_stocks_database(cache_dir: Optional[str] = None,
                           force: bool = False) -> str:
  """Imports the stock prices unless an up-to-date database is there.

  Args:
    cache_dir: default `$TFF_LSTM_CACHE_DIR`, else `~/.cache/tff_lstm`.
    force: rebuild even if the database is up to date.

  Returns:
    The path of `<cache_dir>/stocks_timeseries.sqlite`.

  Raises:
    FileNotFoundError: the vega-datasets wheel is not installed.
    sql_writer.ForeignDatabaseError: a file we did not write is in the way.
  """
  path = stocks_database_path(cache_dir)
  existing = sql_writer.check_replaceable(path, user_import.BUILDER)
  converted = stocks_timeseries_csv(_read_stocks_csv())
  expected = _expected_build_info(converted)
  if not force and existing is not None and all(
      existing.get(k) == v for k, v in expected.items()):
    logging.info('Stocks database is up to date: %s', path)
    return path
  with tempfile.TemporaryDirectory() as tmp:
    source = os.path.join(tmp, _STOCKS_SOURCE_NAME)
    with open(source, 'wb') as f:
      f.write(converted)
    summary = user_import.import_file(source, path, 'timeseries')
  logging.info('Wrote %d stock clients (%d train, %d test readings) to %s.',
               summary.clients, summary.train_examples, summary.test_examples,
               path)
  return path
