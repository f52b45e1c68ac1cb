"""Imports your own sequences (CSV or JSONL) as a federated SQLite database.

  .venv/bin/python datasets/import_sequences.py --input=data.csv \
      --shape=text|labelled_text|timeseries [--output=data.sqlite]

Shapes and file layouts are described in tff_lstm/data/user_import.py and
datasets/README.md. Bad input is reported as `file, line N: problem`, and an
output that cannot be written (or holds a file not ours to replace) by its
path, in one line with exit code 2; nothing is written. SIGTERM and Ctrl-C
stop the import without leaving a temporary file (exit codes 143 and 130).
Load the result with `tff_lstm.data.user_import.load_client_data(path)`.
"""

import os
import signal
import sys

from absl import app
from absl import flags

from tff_lstm.data import paths
from tff_lstm.data import splits
from tff_lstm.data import sql_writer
from tff_lstm.data import user_import

_INPUT = flags.DEFINE_string('input', None, 'CSV or JSONL file to import.')
_SHAPE = flags.DEFINE_enum('shape', None, user_import.SHAPES,
                           'What each row holds.')
_OUTPUT = flags.DEFINE_string(
    'output', None,
    'Database to write; default <cache dir>/<input name>.sqlite (cache dir: '
    '$TFF_LSTM_CACHE_DIR, else ~/.cache/tff_lstm).')
_FORMAT = flags.DEFINE_enum('format', None, user_import.FORMATS,
                            'Input format; default from the extension.')
_TEST_FRACTION = flags.DEFINE_float(
    'test_fraction', splits.DEFAULT_TEST_FRACTION,
    'Later part of each client\'s rows held out for test.')
_DROP_SMALL_CLIENTS = flags.DEFINE_bool(
    'drop_small_clients', False,
    'Leave out clients with fewer than 2 rows instead of failing.')
flags.mark_flags_as_required(['input', 'shape'])


class _Terminated(BaseException):
  """SIGTERM, raised like KeyboardInterrupt so that the writer cleans up."""


def _raise_terminated(signum, frame):
  del signum, frame  # Unused.
  raise _Terminated()


def main(argv):
  del argv  # Unused.
  signal.signal(signal.SIGTERM, _raise_terminated)
  output = _OUTPUT.value or os.path.join(
      paths.default_cache_dir(),
      os.path.splitext(os.path.basename(_INPUT.value))[0] + '.sqlite')
  try:
    summary = user_import.import_file(
        _INPUT.value, output, _SHAPE.value, file_format=_FORMAT.value,
        test_fraction=_TEST_FRACTION.value,
        drop_small_clients=_DROP_SMALL_CLIENTS.value)
  # UserImportError and UnwritableOutputError are ValueErrors too.
  except (ValueError, sql_writer.ForeignDatabaseError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  except (_Terminated, KeyboardInterrupt) as e:
    signum = signal.SIGTERM if isinstance(e, _Terminated) else signal.SIGINT
    print(f'error: import stopped by {signum.name}; {output} was not written',
          file=sys.stderr)
    return 128 + signum  # The shell's code for a process ended by `signum`.
  print(f'{summary.path}: {summary.clients} clients, {summary.train_examples} '
        f'train and {summary.test_examples} test examples ({summary.shape})')
  if summary.dropped_clients:
    print(f'left out {len(summary.dropped_clients)} clients with fewer than '
          f'{splits.MIN_EXAMPLES} rows')
  return 0


if __name__ == '__main__':
  app.run(main)
