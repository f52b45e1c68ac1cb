"""What a task's data is, as recorded by a run: file name -> content hash.

A run records its task's data identity in `hparams.json` and refuses to resume
when the same path now holds other data (say, another file imported to the same
`--database_path`), instead of continuing silently or failing on shapes.
"""

import contextlib
import hashlib
import os
import pathlib
import sqlite3

from tff_lstm.data import sql_writer


def of_database(path: str) -> dict[str, str]:
  """{basename: content hash} of a `SqlClientData` database.

  Raises:
    ValueError: the database is damaged or not SQLite (naming `path`).
  """
  return {os.path.basename(path): sql_writer.content_hash(path)}


def of_large_foreign_database(path: str) -> dict[str, str]:
  """{basename: hash of its client index and size}, for very large downloads.

  TFF's Stack Overflow database holds gigabytes; hashing every row at each
  start would take minutes, so a hash of `client_metadata` (every client id,
  split and count) and the file size stands for it. It tells apart any other
  data set, not a change inside one example.
  """
  digest = hashlib.sha256(str(os.path.getsize(path)).encode())
  uri = pathlib.Path(os.path.abspath(path)).as_uri() + '?mode=ro'
  try:
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
      for row in con.execute('SELECT client_id, split_name, num_examples FROM '
                             'client_metadata ORDER BY 1, 2'):
        digest.update(repr(row).encode())
  except sqlite3.DatabaseError as e:
    raise ValueError(f'{path}: not a readable SqlClientData database ({e}).'
                     ) from e
  return {os.path.basename(path): 'client_metadata:' + digest.hexdigest()}
