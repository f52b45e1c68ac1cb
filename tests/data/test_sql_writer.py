"""Atomic writes in TFF's SqlClientData schema, never over foreign files.

Also: damaged databases told apart from foreign ones, unwritable outputs
refused before any work, and temporary files of killed writers removed.
"""

import os
import random
import re
import sqlite3
import stat
import subprocess

import pytest
import tensorflow_federated as tff

from tff_lstm.data import example_proto
from tff_lstm.data import shakespeare
from tff_lstm.data import sql_writer

_INFO = {'builder': 'test_builder', 'builder_version': '1'}


def _rows():
  for client in ('b', 'a'):
    for i in range(3):
      yield ('train' if i < 2 else 'test', client,
             example_proto.encode_example({'snippets': f'{client}{i}'}))


def _leftovers(directory):
  return [name for name in os.listdir(directory) if '.tmp-' in name]


def test_tff_reads_the_database(tmp_path):
  path = str(tmp_path / 'db.sqlite')
  counts = sql_writer.write_database(path, _rows(), _INFO)
  assert counts == {('a', 'train'): 2, ('a', 'test'): 1, ('b', 'train'): 2,
                    ('b', 'test'): 1}
  train = tff.simulation.datasets.SqlClientData(path, split_name='train')
  assert train.client_ids == ['a', 'b']
  protos = list(train.create_tf_dataset_for_client('b').as_numpy_iterator())
  assert [example_proto.decode_example(p)['snippets'] for p in protos] == [
      [b'b0'], [b'b1']]
  with sqlite3.connect(path) as con:
    metadata = con.execute('SELECT client_id, split_name, num_examples FROM '
                           'client_metadata ORDER BY 1, 2').fetchall()
  assert metadata == [('a', 'test', 1), ('a', 'train', 2), ('b', 'test', 1),
                      ('b', 'train', 2)]


def test_build_info_marks_our_files(tmp_path):
  path = str(tmp_path / 'db.sqlite')
  sql_writer.write_database(path, _rows(), _INFO)
  info = sql_writer.read_build_info(path)
  assert info.pop(sql_writer.CONTENT_HASH_KEY)
  assert info == _INFO
  assert sql_writer.check_replaceable(path, 'test_builder')['builder'] == (
      'test_builder')
  assert sql_writer.check_replaceable(str(tmp_path / 'absent'), 'x') is None


def test_file_is_readable_by_others(tmp_path):
  path = str(tmp_path / 'db.sqlite')
  sql_writer.write_database(path, _rows(), _INFO)
  umask = os.umask(0o022)
  os.umask(umask)
  assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask


def _foreign_tff_like(path):
  with sqlite3.connect(path) as con:
    con.execute('CREATE TABLE examples (split_name, client_id, '
                'serialized_example_proto)')
    con.execute('CREATE TABLE client_metadata (client_id, split_name, '
                'num_examples)')


@pytest.mark.parametrize('make_foreign', [
    lambda p: open(p, 'w').write('not a database'),
    lambda p: open(p, 'w').close(),
    _foreign_tff_like,
])
def test_refuses_foreign_files(tmp_path, make_foreign):
  path = str(tmp_path / 'db.sqlite')
  make_foreign(path)
  with open(path, 'rb') as f:
    before = f.read()
  with pytest.raises(sql_writer.ForeignDatabaseError, match=str(path)) as e:
    sql_writer.check_replaceable(path, 'test_builder')
  assert not isinstance(e.value, sql_writer.DamagedDatabaseError)
  assert 'was not written by tff-lstm' in str(e.value)
  with open(path, 'rb') as f:
    assert f.read() == before


def test_refuses_another_builders_file(tmp_path):
  path = str(tmp_path / 'db.sqlite')
  sql_writer.write_database(path, _rows(), {'builder': 'other'})
  with pytest.raises(sql_writer.ForeignDatabaseError):
    sql_writer.check_replaceable(path, 'test_builder')


def test_failure_leaves_old_file_and_no_temp_file(tmp_path):
  path = str(tmp_path / 'db.sqlite')
  sql_writer.write_database(path, _rows(), _INFO)
  with open(path, 'rb') as f:
    before = f.read()

  def failing_rows():
    yield from list(_rows())[:2]
    raise RuntimeError('disk on fire')

  with pytest.raises(RuntimeError, match='disk on fire'):
    sql_writer.write_database(path, failing_rows(), _INFO)
  with open(path, 'rb') as f:
    assert f.read() == before
  assert not _leftovers(tmp_path)


def test_failure_without_old_file_leaves_nothing(tmp_path):
  path = str(tmp_path / 'sub' / 'db.sqlite')
  bad = [('train', "o'brien", b'')]
  with pytest.raises(ValueError, match='quote'):
    sql_writer.write_database(path, bad, _INFO)
  assert os.listdir(tmp_path / 'sub') == []


def test_build_info_needs_a_builder(tmp_path):
  with pytest.raises(ValueError):
    sql_writer.write_database(str(tmp_path / 'db.sqlite'), _rows(), {})


def test_content_hash_names_the_data_not_the_file(tmp_path):
  first, again = str(tmp_path / 'a.sqlite'), str(tmp_path / 'b.sqlite')
  sql_writer.write_database(first, _rows(), _INFO)
  sql_writer.write_database(again, _rows(), {**_INFO, 'builder_version': '2'})
  assert sql_writer.content_hash(first) == sql_writer.content_hash(again)
  other = str(tmp_path / 'c.sqlite')
  sql_writer.write_database(
      other, [r if r[1] != 'a' else (r[0], 'a', r[2] + b' ') for r in _rows()],
      _INFO)
  assert sql_writer.content_hash(other) != sql_writer.content_hash(first)


def test_content_hash_of_files_without_one_is_computed_the_same_way(tmp_path):
  path = str(tmp_path / 'db.sqlite')
  sql_writer.write_database(path, _rows(), _INFO)
  recorded = sql_writer.content_hash(path)
  with sqlite3.connect(path) as con:
    con.execute(f'DELETE FROM {sql_writer.BUILD_INFO_TABLE} WHERE key = ?',
                (sql_writer.CONTENT_HASH_KEY,))
  assert sql_writer.CONTENT_HASH_KEY not in sql_writer.read_build_info(path)
  assert sql_writer.content_hash(path) == recorded


def test_content_hash_refuses_a_file_that_is_no_database(tmp_path):
  path = tmp_path / 'junk.sqlite'
  path.write_bytes(b'not sqlite at all' * 100)
  with pytest.raises(ValueError, match='junk.sqlite') as e:
    sql_writer.content_hash(str(path))
  assert not isinstance(e.value, sql_writer.DamagedDatabaseError)


def _shakespeare_bytes(cache_dir):
  with open(os.path.join(cache_dir, 'shakespeare.sqlite'), 'rb') as f:
    return f.read()


def test_intact_database_passes_verification(full_cache_dir):
  path = os.path.join(full_cache_dir, 'shakespeare.sqlite')
  sql_writer.verify_database(path)
  info = sql_writer.check_replaceable(path, shakespeare.BUILDER)
  assert info == sql_writer.read_build_info(path)


def _assert_reported_as_damaged(error, path):
  message = str(error)
  assert isinstance(error, sql_writer.DamagedDatabaseError)
  assert isinstance(error, ValueError)  # What the binaries report in a line.
  assert message.startswith(f'{path} is a damaged SQLite database (')
  assert 'delete it and rerun the build or import' in message
  assert 'TFF download' not in message and '\n' not in message


def test_truncated_database_is_damaged_not_foreign(full_cache_dir, tmp_path):
  data = _shakespeare_bytes(full_cache_dir)
  path = tmp_path / 'shakespeare.sqlite'
  path.write_bytes(data[:len(data) // 2])
  for check in (lambda: sql_writer.check_replaceable(
                    str(path), shakespeare.BUILDER),
                lambda: sql_writer.verify_database(str(path)),
                lambda: sql_writer.content_hash(str(path))):
    with pytest.raises(ValueError) as error:
      check()
    _assert_reported_as_damaged(error.value, path)
    assert f'truncated to {len(data) // 2:,} of {len(data):,} bytes' in str(
        error.value)
  assert path.read_bytes() == data[:len(data) // 2]


@pytest.mark.parametrize('fill', ['random', 'zeros'])
def test_overwritten_pages_are_found_before_a_run_reads_them(
    full_cache_dir, tmp_path, fill):
  data = bytearray(_shakespeare_bytes(full_cache_dir))
  page_size = int.from_bytes(data[16:18], 'big')
  middle = len(data) // page_size // 2
  noise = random.Random(0)
  for page in (middle, middle + 1, middle + 7):
    data[page * page_size:(page + 1) * page_size] = (
        noise.randbytes(page_size) if fill == 'random' else bytes(page_size))
  path = tmp_path / 'shakespeare.sqlite'
  path.write_bytes(bytes(data))
  # The build info is intact, so the file still reads as ours...
  assert sql_writer.read_build_info(str(path))[sql_writer.CONTENT_HASH_KEY]
  # ...yet a run's first step, content_hash, reports the damage.
  with pytest.raises(ValueError) as error:
    sql_writer.content_hash(str(path))
  _assert_reported_as_damaged(error.value, path)
  with pytest.raises(sql_writer.DamagedDatabaseError):
    sql_writer.check_replaceable(str(path), shakespeare.BUILDER)


@pytest.mark.parametrize('output', [
    'afile/out.sqlite', 'afile/deeper/out.sqlite', '.'])
def test_unwritable_output_is_refused_before_any_work(tmp_path, output):
  (tmp_path / 'afile').write_text('a regular file')
  path = os.path.normpath(str(tmp_path / output))
  consumed = []

  def rows():
    consumed.append(True)
    yield from _rows()

  with pytest.raises(sql_writer.UnwritableOutputError) as error:
    sql_writer.write_database(path, rows(), _INFO)
  assert str(error.value).startswith(f'cannot write {path}: ')
  assert ('is a file, not a directory' if 'afile' in output else
          'it is a directory') in str(error.value)
  assert not consumed
  assert os.listdir(tmp_path) == ['afile']
  assert (tmp_path / 'afile').read_text() == 'a regular file'


def test_temporary_file_is_named_after_the_writer(tmp_path):
  seen = []

  def rows():
    seen.extend(_leftovers(tmp_path))
    yield from _rows()

  sql_writer.write_database(str(tmp_path / 'db.sqlite'), rows(), _INFO)
  (name,) = seen
  assert re.fullmatch(rf'db\.sqlite\.tmp-{os.getpid()}-[a-z0-9_]+', name)
  assert not _leftovers(tmp_path)


def test_temporary_files_of_dead_writers_are_removed(tmp_path):
  dead = subprocess.Popen(['true'])
  dead.wait()  # Reaped: its pid belongs to no process now.
  alive = subprocess.Popen(['sleep', '60'])
  try:
    names = {
        f'db.sqlite.tmp-{dead.pid}-abc123': 'removed',
        f'db.sqlite.tmp-{dead.pid}-abc123-journal': 'removed',
        f'db.sqlite.tmp-{alive.pid}-def456': 'kept',  # A live writer's.
        f'db.sqlite.tmp-{alive.pid}-def456-journal': 'kept',
        f'db.sqlite.tmp-{os.getpid()}-ghi789': 'kept',  # This process's.
        f'other.sqlite.tmp-{dead.pid}-abc123': 'kept',  # Another target's.
        'db.sqlite.tmp-k2j4x9_a': 'kept',  # No pid: not a name we write.
    }
    for name in names:
      (tmp_path / name).write_bytes(b'partial')
    sql_writer.write_database(str(tmp_path / 'db.sqlite'), _rows(), _INFO)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ['db.sqlite'] + [n for n, fate in names.items() if fate == 'kept'])
  finally:
    alive.kill()
    alive.wait()


def test_paths_with_uri_characters_are_ours_to_replace(tmp_path):
  # SQLite opens read-only through a URI, where '?' and '#' end the path.
  path = str(tmp_path / 'runs?v=2#a' / 'db.sqlite')
  sql_writer.write_database(path, _rows(), _INFO)
  assert sql_writer.check_replaceable(path, 'test_builder')['builder'] == (
      'test_builder')
  sql_writer.verify_database(path)
  assert sql_writer.content_hash(path) == sql_writer.read_build_info(path)[
      sql_writer.CONTENT_HASH_KEY]
