"""Builds the federated Shakespeare database offline (what `make data` runs).

  .venv/bin/python datasets/build_shakespeare.py [--cache_dir=DIR] [--force]
  .venv/bin/python datasets/build_shakespeare.py --stats   # datasets/README.md

Writes <cache_dir>/shakespeare.sqlite, the file TFF's
`shakespeare.load_data(cache_dir=DIR)` opens; a no-op when it is up to date.
"""

import sys

from absl import app
from absl import flags

from tff_lstm.data import shakespeare
from tff_lstm.data import shakespeare_stats
from tff_lstm.data import sql_writer

_CACHE_DIR = flags.DEFINE_string(
    'cache_dir', None,
    'Directory for shakespeare.sqlite; default $TFF_LSTM_CACHE_DIR, else '
    '~/.cache/tff_lstm.')
_FORCE = flags.DEFINE_bool('force', False, 'Rebuild even if up to date.')
_STATS = flags.DEFINE_bool(
    'stats', False, 'Print the statistics table of the dataset card.')


def main(argv):
  del argv  # Unused.
  try:
    path = shakespeare.ensure_database(_CACHE_DIR.value, force=_FORCE.value)
  except sql_writer.ForeignDatabaseError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  print(path)
  if _STATS.value:
    plays = shakespeare.parse_plays()
    print(shakespeare_stats.format_table(
        shakespeare_stats.database_stats(path),
        shakespeare_stats.source_stats(plays)))
    print()
    print(shakespeare_stats.format_repairs(plays))
    print()
    print(shakespeare_stats.format_anomalies(
        shakespeare.find_anomalies(plays)))
  return 0


if __name__ == '__main__':
  app.run(main)
