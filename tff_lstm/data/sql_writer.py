"""Writes databases that TFF's `SqlClientData` reads, atomically.

The schema is the one `tff.simulation.datasets.SqlClientData` checks and
queries: `examples(split_name, client_id, serialized_example_proto)` and
`client_metadata(client_id, split_name, num_examples)`. An extra table,
`tff_lstm_build_info`, marks a file as ours: only files carrying it are ever
replaced, so a user's real TFF download is never overwritten.

The build info also carries `content_sha256`, a hash of every example row in
read order: the data's identity, which a run records so that it never resumes
on other data that was written to the same path.

A damaged file (truncated, or with overwritten pages) is told apart from a
foreign one, and reported with its path before a build replaces it or a run
reads it: TensorFlow's own reader would only fail mid-training, with an error
that names no file.
"""

import collections
from collections.abc import Iterable, Mapping
import contextlib
import hashlib
import os
import re
import sqlite3
import tempfile
from typing import Optional
import urllib.parse

BUILD_INFO_TABLE = 'tff_lstm_build_info'
CONTENT_HASH_KEY = 'content_sha256'

# Client ids are spliced into SQL by `SqlClientData._create_dataset`, so a
# quote would break (or change) its query.
FORBIDDEN_CLIENT_ID_CHARS = frozenset("'\\\x00")

_SQLITE_MAGIC = b'SQLite format 3\x00'
_HEADER_SIZE = 100
# Temporary files are `<target>.tmp-<writer pid>-<random>`, plus SQLite's
# `-journal` beside each while a transaction is open.
_TEMP_INFIX = '.tmp-'
_TEMP_SUFFIX = re.compile(r'(\d+)-[a-z0-9_]+(-journal)?')
_REBUILD_HINT = ('delete it and rerun the build or import that wrote it '
                 '(Shakespeare: make data; your own data: '
                 'datasets/import_sequences.py), or fetch it again')


class ForeignDatabaseError(RuntimeError):
  """A file in the way of a database we would write, not ours to replace.

  Another program's (say, a real TFF download), or a damaged one.
  """


class DamagedDatabaseError(ForeignDatabaseError, ValueError):
  """An SQLite file is truncated or has damaged pages.

  A `ForeignDatabaseError`, because a build leaves it to the user to delete
  rather than replacing it (nothing a damaged file says, its build info
  included, can be trusted), and a `ValueError`, the bad-input error that the
  binaries report in one line when a run is handed such a database.
  """

  def __init__(self, path: str, problem: str):
    self.path, self.problem = path, problem
    super().__init__(f'{path} is a damaged SQLite database ({problem}); '
                     f'{_REBUILD_HINT}.')


class UnwritableOutputError(ValueError):
  """The database cannot be written where it was asked for.

  A `ValueError`, like any other bad setting, so that the binaries report it
  in one line before doing any work.
  """


def _connect_read_only(path: str) -> sqlite3.Connection:
  # Quoted, so that a '?' or '#' in a directory name stays part of the path.
  uri = f'file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro'
  return sqlite3.connect(uri, uri=True)


def _is_sqlite(path: str) -> bool:
  try:
    with open(path, 'rb') as f:
      return f.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
  except OSError:
    return False  # Unreadable: nothing we could have written and verified.


def read_build_info(path: str) -> Optional[dict[str, str]]:
  """The build info of a database we wrote, or None for any other file."""
  if not os.path.isfile(path):
    return None
  try:
    with contextlib.closing(_connect_read_only(path)) as con:
      rows = con.execute(f'SELECT key, value FROM {BUILD_INFO_TABLE}')
      return {key: value for key, value in rows}
  except sqlite3.DatabaseError:  # Not SQLite, damaged, or no build info.
    return None


def _truncation(path: str) -> Optional[str]:
  """How much of the file is missing, per the size its header records."""
  with open(path, 'rb') as f:
    header = f.read(_HEADER_SIZE)
  size = os.path.getsize(path)
  if len(header) < _HEADER_SIZE:
    return f'truncated to {size:,} bytes, shorter than its header'
  page_size = int.from_bytes(header[16:18], 'big')
  page_size = 65536 if page_size == 1 else page_size
  page_count = int.from_bytes(header[28:32], 'big')
  # The recorded page count holds when written by the same change (SQLite's
  # "version-valid-for" number equals the change counter).
  if header[92:96] == header[24:28] and size < page_size * page_count:
    return f'truncated to {size:,} of {page_size * page_count:,} bytes'
  return None


def verify_database(path: str) -> None:
  """Raises unless `path` is an SQLite file without structural damage.

  Compares the file with the size its header records, then runs SQLite's
  `PRAGMA quick_check`, which reads every page of every table and index
  (10-40 ms for the 7.8 MB Shakespeare database; time grows with size).
  It finds truncation and overwritten pages; it cannot see a changed byte
  inside a stored example.

  Raises:
    FileNotFoundError: no file at `path`.
    DamagedDatabaseError: an SQLite file, truncated or damaged.
    ValueError: not an SQLite file at all, or one that cannot be read.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{path}: no such database.')
  if os.path.getsize(path) == 0:
    return  # SQLite reads an empty file as an empty database.
  try:
    with open(path, 'rb') as f:
      magic = f.read(len(_SQLITE_MAGIC))
    problem = _truncation(path) if magic == _SQLITE_MAGIC else None
  except OSError as e:
    raise ValueError(f'{path}: cannot read it ({e.strerror or e}).') from None
  if magic != _SQLITE_MAGIC:
    raise ValueError(f'{path}: not an SQLite database.')
  if problem is None:
    try:
      with contextlib.closing(_connect_read_only(path)) as con:
        results = [row[0] for row in con.execute('PRAGMA quick_check')]
    except sqlite3.OperationalError as e:  # Cannot open or read: not damage.
      raise ValueError(f'{path}: cannot read the database ({e}).') from None
    except sqlite3.DatabaseError as e:  # SQLite's "corrupt", "not a database".
      results = [str(e)]
    if results != ['ok']:
      problem = '; '.join(results[:3]) + ('; ...' if len(results) > 3 else '')
  if problem is not None:
    raise DamagedDatabaseError(path, problem)


def _hash_row(digest, split_name: str, client_id: str, proto: bytes) -> None:
  # Length-prefixed fields, so no two different row lists hash alike.
  for field in (split_name.encode('utf-8'), client_id.encode('utf-8'), proto):
    digest.update(len(field).to_bytes(8, 'little'))
    digest.update(field)


def content_hash(path: str) -> str:
  """The data's identity: `content_sha256` of the build info, else computed.

  Files written before the hash was recorded, and databases we did not write
  (a real TFF download), are hashed here from their rows in insertion order,
  the same way the writer hashes them. The file is verified first: a run
  calls this before it writes anything, so a damaged database is reported
  then, with its path, rather than by TensorFlow's reader mid-training.

  Raises:
    FileNotFoundError: no file at `path`.
    ValueError: `path` is damaged (`DamagedDatabaseError`) or not a readable
      `SqlClientData` database.
  """
  verify_database(path)
  info = read_build_info(path) or {}
  if CONTENT_HASH_KEY in info:
    return info[CONTENT_HASH_KEY]
  digest = hashlib.sha256()
  try:
    with contextlib.closing(_connect_read_only(path)) as con:
      for row in con.execute(
          'SELECT split_name, client_id, serialized_example_proto '
          'FROM examples ORDER BY rowid'):
        _hash_row(digest, *row)
  except sqlite3.DatabaseError as e:
    raise ValueError(f'{path}: not a readable SqlClientData database ({e}).'
                     ) from e
  return digest.hexdigest()


def _foreign(path: str, builder: str) -> ForeignDatabaseError:
  return ForeignDatabaseError(
      f'{path} exists but was not written by tff-lstm ({builder}); it may be '
      'a real TFF download or your own file. Refusing to overwrite it: move '
      'it away, or choose another cache directory (--cache_dir or '
      '$TFF_LSTM_CACHE_DIR).')


def check_replaceable(path: str, builder: str) -> Optional[dict[str, str]]:
  """Raises unless `path` is absent or an intact database `builder` wrote.

  Args:
    path: the database path about to be written.
    builder: the name our builder records in the build info.

  Returns:
    The existing build info, or None when there is no file.

  Raises:
    DamagedDatabaseError: `path` is a damaged SQLite file (whoever wrote it).
    ForeignDatabaseError: `path` exists but is not a database `builder` wrote.
  """
  if not os.path.lexists(path):
    return None
  if not os.path.isfile(path) or os.path.getsize(path) == 0 or (
      not _is_sqlite(path)):
    raise _foreign(path, builder)
  try:
    with contextlib.closing(_connect_read_only(path)) as con:
      info = dict(con.execute(f'SELECT key, value FROM {BUILD_INFO_TABLE}'))
  except sqlite3.OperationalError:
    # No table of ours in a readable schema (or no access at all): someone
    # else's file, refused without reading all of it, since a TFF download
    # holds gigabytes.
    raise _foreign(path, builder) from None
  except sqlite3.DatabaseError as e:  # SQLite's "corrupt", "not a database".
    verify_database(path)  # Raises, saying what it can (say, truncation).
    raise DamagedDatabaseError(path, str(e)) from None
  if info.get('builder') != builder:
    raise _foreign(path, builder)
  verify_database(path)
  return info


def check_writable(path: str) -> None:
  """Raises unless a database can be written to `path`, before any work.

  The nearest existing ancestor directory must be writable: the writer
  creates any missing directories below it, then a temporary file beside
  `path`.

  Raises:
    UnwritableOutputError: naming `path` and what is in the way.
  """
  path = os.path.abspath(path)
  if os.path.isdir(path):
    raise UnwritableOutputError(
        f'cannot write {path}: it is a directory; name a file in it instead.')
  ancestor = os.path.dirname(path)
  while not os.path.lexists(ancestor):
    ancestor = os.path.dirname(ancestor)
  if not os.path.isdir(ancestor):
    raise UnwritableOutputError(
        f'cannot write {path}: {ancestor} is a file, not a directory.')
  if not os.access(ancestor, os.W_OK | os.X_OK):
    reason = ('is on a read-only file system'
              if os.statvfs(ancestor).f_flag & os.ST_RDONLY else
              'is not writable by you')
    raise UnwritableOutputError(f'cannot write {path}: {ancestor} {reason}.')


def _may_be_running(pid: int) -> bool:
  """False only for a process id that certainly belongs to no live process."""
  if pid <= 0 or pid == os.getpid():
    return True  # Not a name we write, or this very process.
  try:
    os.kill(pid, 0)  # Signal 0: checks existence, delivers nothing.
  except ProcessLookupError:
    return False
  except (PermissionError, OverflowError):
    return True  # Another user's live process; or not a name we write.
  return True


def remove_stale_temp_files(path: str) -> list[str]:
  """Removes temporary files of writers of `path` that are no longer running.

  A writer killed by SIGKILL (or SIGTERM, when nothing catches it) cannot
  remove its temporary file and SQLite's `-journal` beside it; the next write
  of the same target does. Files of running writers, of other targets, and
  names this module does not write are left alone. A pid names a process of
  this machine only: writers on other hosts sharing the directory are not
  told apart (one whose file went missing fails, naming the path).

  Returns:
    The paths removed.
  """
  directory = os.path.dirname(os.path.abspath(path))
  prefix = os.path.basename(path) + _TEMP_INFIX
  removed = []
  try:
    names = os.listdir(directory)
  except FileNotFoundError:
    return removed
  for name in sorted(names):
    match = name.startswith(prefix) and _TEMP_SUFFIX.fullmatch(
        name[len(prefix):])
    if match and not _may_be_running(int(match.group(1))):
      with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(directory, name))
        removed.append(os.path.join(directory, name))
  return removed


def write_database(
    path: str,
    examples: Iterable[tuple[str, str, bytes]],
    build_info: Mapping[str, str],
) -> dict[tuple[str, str], int]:
  """Writes a `SqlClientData` database to `path` in one atomic step.

  The database is built in a temporary file beside `path`, named after this
  process (`<name>.tmp-<pid>-<random>`), and moved into place with
  `os.replace`, so readers see the old file or the complete new one, and an
  error leaves nothing behind. Temporary files of earlier writers of `path`
  that were killed are removed first.

  Args:
    examples: `(split_name, client_id, serialized_example_proto)` in the order
      each client's examples should be read back.
    build_info: recorded in `tff_lstm_build_info`; must name a 'builder'.
      `content_sha256` is added.

  Returns:
    The number of examples per `(client_id, split_name)`.

  Raises:
    UnwritableOutputError: `path` cannot be written (permissions, a file in
      the way, a full disk), naming it.
  """
  if 'builder' not in build_info:
    raise ValueError('build_info must name its builder.')
  check_writable(path)
  directory = os.path.dirname(os.path.abspath(path))
  try:
    os.makedirs(directory, exist_ok=True)
    remove_stale_temp_files(path)
    fd, tmp_path = tempfile.mkstemp(
        prefix=f'{os.path.basename(path)}{_TEMP_INFIX}{os.getpid()}-',
        dir=directory)
  except OSError as e:
    raise UnwritableOutputError(
        f'cannot write {path}: {e.strerror or e}.') from None
  os.close(fd)
  try:
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp's 0600 is too strict.
    counts = _write(tmp_path, examples, build_info)
    os.replace(tmp_path, path)
  except BaseException as e:
    for leftover in (tmp_path, tmp_path + '-journal'):
      with contextlib.suppress(FileNotFoundError):
        os.remove(leftover)
    # SQLite's own failures (a full disk, an I/O error) and the file system's
    # on our files; an error raised by the caller's `examples` passes as is.
    if isinstance(e, sqlite3.OperationalError) or (
        isinstance(e, OSError) and e.filename in (tmp_path, path)):
      raise UnwritableOutputError(
          f'cannot write {path}: {getattr(e, "strerror", None) or e}.'
      ) from None
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
