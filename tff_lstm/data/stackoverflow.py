"""Stack Overflow through TFF's real loader, from a file the user fetched.

TFF's `stackoverflow.load_data(cache_dir)` opens
`<cache_dir>/stackoverflow.sqlite` and, when it is missing, starts a large
download. This module checks first and fails at once with instructions
instead, so nothing here ever touches the network.
"""

import hashlib
import os
from typing import Optional

DATABASE_FILENAME = 'stackoverflow.sqlite'
_ORIGIN = ('https://storage.googleapis.com/tff-datasets-public/'
           'stackoverflow.sqlite.lzma')
# What `stackoverflow.load_word_counts` reads; `tf.keras.utils.get_file` keeps
# it under a 'datasets' subfolder of the cache dir.
WORD_COUNT_ARCHIVE = os.path.join('datasets',
                                  'stackoverflow.word_count.tar.bz2')
_WORD_COUNT_ORIGIN = ('https://storage.googleapis.com/tff-datasets-public/'
                      'stackoverflow.word_count.tar.bz2')
# The SHA-256 TFF checks; on a mismatch Keras would download the file again.
WORD_COUNT_SHA256 = (
    '1dc00256d6e527c54b9756d968118378ae14e6692c0b3b6cad470cdd3f0c519c')


class StackOverflowNotFoundError(FileNotFoundError):
  """The Stack Overflow database (or word counts) is not on this machine."""


def database_path(path_or_cache_dir: str) -> str:
  """The database TFF will open for a cache dir, or a path to the file."""
  path = os.path.abspath(os.path.expanduser(path_or_cache_dir))
  if path.endswith('.sqlite'):
    if os.path.basename(path) != DATABASE_FILENAME:
      raise ValueError(
          f'TFF only opens a file named {DATABASE_FILENAME}; rename {path} or '
          'pass the directory holding stackoverflow.sqlite.')
    return path
  return os.path.join(path, DATABASE_FILENAME)


def _missing(what: str, path: str, origin: str, extract: str):
  return StackOverflowNotFoundError(
      f'{what} not found at {path}. tff-lstm never downloads it (it is large, '
      f'and this machine may be offline). On a machine with internet fetch '
      f'{origin}, {extract}, and copy the result to {path}; then pass its '
      'directory as the cache dir.')


def load_client_data(path_or_cache_dir: str):
  """(train, heldout, test) Stack Overflow `ClientData`, via TFF's loader.

  Args:
    path_or_cache_dir: the directory holding `stackoverflow.sqlite` (what TFF
      calls `cache_dir`), or the path of that file.

  Raises:
    StackOverflowNotFoundError: the database is absent (checked before TFF is
      called, so no download is attempted).
  """
  path = database_path(path_or_cache_dir)
  if not os.path.isfile(path):
    raise _missing('Stack Overflow database', path, _ORIGIN,
                   'decompress it with `unxz stackoverflow.sqlite.lzma`')
  import tensorflow_federated as tff  # pylint: disable=g-import-not-at-top
  return tff.simulation.datasets.stackoverflow.load_data(
      cache_dir=os.path.dirname(path))


def load_vocab(cache_dir: str, vocab_size: Optional[int] = 10000) -> list[str]:
  """The most frequent words of TFF's Stack Overflow word counts.

  Raises:
    StackOverflowNotFoundError: the word-count archive is absent or is not
      the one TFF expects (checked first, so no download is attempted).
  """
  cache_dir = os.path.abspath(os.path.expanduser(cache_dir))
  archive = os.path.join(cache_dir, WORD_COUNT_ARCHIVE)
  if not os.path.isfile(archive):
    raise _missing('Stack Overflow word counts', archive, _WORD_COUNT_ORIGIN,
                   'keep it as is (TFF checks its hash and unpacks it)')
  sha256 = hashlib.sha256()
  with open(archive, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      sha256.update(chunk)
  digest = sha256.hexdigest()
  if digest != WORD_COUNT_SHA256:
    raise StackOverflowNotFoundError(
        f'{archive} is not the word-count archive TFF expects (SHA-256 '
        f'{digest}, not {WORD_COUNT_SHA256}); TFF would download it again. '
        f'Replace it with a fresh copy of {_WORD_COUNT_ORIGIN}.')
  import tensorflow_federated as tff  # pylint: disable=g-import-not-at-top
  counts = tff.simulation.datasets.stackoverflow.load_word_counts(
      cache_dir=cache_dir, vocab_size=vocab_size)
  return list(counts)
