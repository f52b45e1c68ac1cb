"""Where tff-lstm keeps the databases it builds."""

import os
from typing import Optional

CACHE_DIR_ENV = 'TFF_LSTM_CACHE_DIR'


def default_cache_dir() -> str:
  """`$TFF_LSTM_CACHE_DIR`, else `~/.cache/tff_lstm`.

  Not TFF's own `~/.tff`, so a real TFF download there is never touched.
  """
  from_env = os.environ.get(CACHE_DIR_ENV)
  if from_env:
    return os.path.abspath(os.path.expanduser(from_env))
  return os.path.join(os.path.expanduser('~'), '.cache', 'tff_lstm')


def resolve_cache_dir(cache_dir: Optional[str] = None) -> str:
  """An explicit `cache_dir` wins over the default."""
  if cache_dir:
    return os.path.abspath(os.path.expanduser(cache_dir))
  return default_cache_dir()
