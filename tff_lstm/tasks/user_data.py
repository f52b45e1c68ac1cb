"""Checks the user-import database a task is given, before anything reads it.

The tasks on your own data take one flag, --database_path; a missing flag,
a missing file or a file of another shape is reported before TensorFlow
builds anything, naming what to pass or run instead.
"""

import contextlib
import os
import pathlib
import sqlite3
from typing import Optional

from tff_lstm.data import user_import

_IMPORT_COMMAND = ('.venv/bin/python datasets/import_sequences.py '
                   '--input=FILE --shape={shape} --output=DB')


def check_database(database_path: Optional[str], shape: str,
                   task_name: str) -> tuple[str, dict[str, str]]:
  """(absolute path, import metadata) of a database known to be of `shape`.

  Raises:
    ValueError: no path given, or the database holds another shape.
    FileNotFoundError: there is no file at the path.
    user_import.UserImportError: the file was not written by the import.
  """
  command = _IMPORT_COMMAND.format(shape=shape)
  if not database_path:
    raise ValueError(
        f'Task {task_name!r} trains on your own data: pass --database_path=DB, '
        f'a database written by `{command}`.')
  path = os.path.abspath(os.path.expanduser(database_path))
  if not os.path.isfile(path):
    raise FileNotFoundError(
        f'--database_path: no file at {path}; write one with `{command}`.')
  metadata = user_import.read_metadata(path)
  if metadata.get('shape') != shape:
    raise ValueError(
        f'--database_path: {path} holds {metadata.get("shape")!r} data, but '
        f'task {task_name!r} needs shape {shape!r}; write one with '
        f'`{command}`.')
  return path, metadata


def client_sizes(database_path: str) -> dict[str, dict[str, int]]:
  """split -> client id -> number of examples, from the database's index.

  Reading `client_metadata` costs nothing, whereas counting through TFF
  would read every example.
  """
  uri = pathlib.Path(os.path.abspath(database_path)).as_uri() + '?mode=ro'
  sizes = {}
  with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
    for client_id, split_name, num_examples in con.execute(
        'SELECT client_id, split_name, num_examples FROM client_metadata'):
      sizes.setdefault(split_name, {})[client_id] = num_examples
  return sizes
