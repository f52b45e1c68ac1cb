"""Writes databases that TFF's `SqlClientData` reads, atomically.

The schema is the one `tff.simulation.datasets.SqlClientData` checks and
queries: `examples(split_name, client_id, serialized_example_proto)` and
`client_metadata(client_id, split_name, num_examples)`. An extra table,
`tff_lstm_build_info`, marks a file as ours: only files carrying it are ever
replaced, so a user's real TFF download is never overwritten.

The build info also carries `content_sha256`, a hash of every example row in
read order: the data's identity, which a run records so that it never resumes
on other data that was written to the same path.
"""

import collections
from collections.abc import Iterable, Mapping
import contextlib
import hashlib
import os
import sqlite3
import tempfile
from typing import Optional

BUILD_INFO_TABLE = 'tff_lstm_build_info'
CONTENT_HASH_KEY = 'content_sha256'

# Client ids are spliced into SQL by `SqlClientData._create_dataset`, so a
# quote would break (or change) its query.
FORBIDDEN_CLIENT_ID_CHARS = frozenset("'\\\x00")


class ForeignDatabaseError(RuntimeError):
  """A file we would write exists and was not written by this builder."""


def read_build_info(path: str) -> Optional[dict[str, str]]:
  """The build info of a database we wrote, or None for any other file."""
  if not os.path.isfile(path):
    return None
  try:
    uri = f'file:{os.path.abspath(path)}?mode=ro'
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
      rows = con.execute(f'SELECT key, value FROM {BUILD_INFO_TABLE}')
      return {key: value for key, value in rows}
  except sqlite3.DatabaseError:  # Not SQLite, or no build info table.
    return None


def _hash_row(digest, split_name: str, client_id: str, proto: bytes) -> None:
  # Length-prefixed fields, so no two different row lists hash alike.
  for field in (split_name.encode('utf-8'), client_id.encode('utf-8'), proto):
    digest.update(len(field).to_bytes(8, 'little'))
    digest.update(field)


def content_hash(path: str) -> str:
  """The data's identity: `content_sha256` of the build info, else computed.

  Files written before the hash was recorded, and databases we did not write
  (a real TFF download), are hashed here from their rows in insertion order,
  the same way the writer hashes them.

  Raises:
    FileNotFoundError: no file at `path`.
    ValueError: `path` is not a readable `SqlClientData` database.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{path}: no such database.')
  info = read_build_info(path) or {}
  if CONTENT_HASH_KEY in info:
    return info[CONTENT_HASH_KEY]
  digest = hashlib.sha256()
  try:
    uri = f'file:{os.path.abspath(path)}?mode=ro'
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
      for row in con.execute(
          'SELECT split_name, client_id, serialized_example_proto '
          'FROM examples ORDER BY rowid'):
        _hash_row(digest, *row)
  except sqlite3.DatabaseError as e:
    raise ValueError(f'{path}: not a readable SqlClientData database ({e}).'
                     ) from e
  return digest.hexdigest()


def check_replaceable(path: str, builder: str) -> Optional[dict[str, str]]:
  """Raises unless `path` is absent or was written by `builder`.

  Args:
    path: the database path about to be written.
    builder: the name our builder records in the build info.

  Returns:
    The existing build info, or None when there is no file.

  Raises:
    ForeignDatabaseError: `path` exists but is not a database `builder` wrote.
  """
  if not os.path.lexists(path):
    return None
  info = read_build_info(path)
  if info is None or info.get('builder') != builder:
    raise ForeignDatabaseError(
        f'{path} exists but was not written by tff-lstm ({builder}); it may be '
        'a real TFF download or your own file. Refusing to overwrite it: move '
        'it away, or choose another cache directory (--cache_dir or '
        '$TFF_LSTM_CACHE_DIR).')
  return info


def write_database(
    path: str,
    examples: Iterable[tuple[str, str, bytes]],
    build_info: Mapping[str, str],
) -> dict[tuple[str, str], int]:
  """Writes a `SqlClientData` database to `path` in one atomic step.

  The database is built in a temporary file beside `path` and moved into place
  with `os.replace`, so readers see the old file or the complete new one, and
  an error leaves nothing behind.

  Args:
    examples: `(split_name, client_id, serialized_example_proto)` in the order
      each client's examples should be read back.
    build_info: recorded in `tff_lstm_build_info`; must name a 'builder'.
      `content_sha256` is added.

  Returns:
    The number of examples per `(client_id, split_name)`.
  """
  if 'builder' not in build_info:
    raise ValueError('build_info must name its builder.')
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp_path = tempfile.mkstemp(
      prefix=os.path.basename(path) + '.tmp-', dir=directory)
  os.close(fd)
  try:
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp's 0600 is too strict.
    counts = _write(tmp_path, examples, build_info)
    os.replace(tmp_path, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.remove(tmp_path)
    raise
  return counts


def _umask() -> int:
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


def _write(path, examples, build_info):
  """Fills a fresh database file; the caller moves it into place."""
  counts = collections.Counter()
  digest = hashlib.sha256()

  def counted(rows):
    for split_name, client_id, proto in rows:
      if FORBIDDEN_CLIENT_ID_CHARS.intersection(client_id) or not client_id:
        raise ValueError(f'Client id {client_id!r} cannot be queried by '
                         'SqlClientData (empty, or has a quote or backslash).')
      counts[(client_id, split_name)] += 1
      _hash_row(digest, split_name, client_id, proto)
      yield split_name, client_id, proto

  with contextlib.closing(sqlite3.connect(path)) as con:
    con.executescript(f"""
        CREATE TABLE examples (
          split_name TEXT NOT NULL,
          client_id TEXT NOT NULL,
          serialized_example_proto BLOB NOT NULL);
        CREATE TABLE client_metadata (
          client_id TEXT NOT NULL,
          split_name TEXT NOT NULL,
          num_examples INTEGER NOT NULL);
        CREATE TABLE {BUILD_INFO_TABLE} (
          key TEXT PRIMARY KEY,
          value TEXT NOT NULL);
    """)
    con.executemany(
        'INSERT INTO examples (split_name, client_id, serialized_example_proto)'
        ' VALUES (?, ?, ?)', counted(examples))
    con.executemany(
        'INSERT INTO client_metadata (client_id, split_name, num_examples)'
        ' VALUES (?, ?, ?)',
        [(client, split, n) for (client, split), n in sorted(counts.items())])
    info = {**build_info, CONTENT_HASH_KEY: digest.hexdigest()}
    con.executemany(
        f'INSERT INTO {BUILD_INFO_TABLE} (key, value) VALUES (?, ?)',
        sorted((k, str(v)) for k, v in info.items()))
    # SqlClientData queries one client (and split) at a time.
    con.execute('CREATE INDEX examples_by_client'
                ' ON examples (client_id, split_name)')
    con.commit()
  return dict(counts)
