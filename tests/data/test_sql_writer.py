"""Atomic writes in TFF's SqlClientData schema, never over foreign files."""

import os
import sqlite3
import stat

import pytest
import tensorflow_federated as tff

from tff_lstm.data import example_proto
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
  with pytest.raises(sql_writer.ForeignDatabaseError, match=str(path)):
    sql_writer.check_replaceable(path, 'test_builder')
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
  with pytest.raises(ValueError, match='junk.sqlite'):
    sql_writer.content_hash(str(path))
