"""The Shakespeare database: TFF reads it unchanged, and its rules hold."""

import json
import os
import re
import sqlite3
import time

import pytest
import tensorflow_federated as tff

from tff_lstm.data import example_proto
from tff_lstm.data import paths
from tff_lstm.data import shakespeare
from tff_lstm.data import sql_writer


def _protos(path):
  with sqlite3.connect(f'file:{path}?mode=ro', uri=True) as con:
    return con.execute('SELECT split_name, client_id, serialized_example_proto'
                       ' FROM examples ORDER BY rowid').fetchall()


def _snippets(client_data, client_id):
  return [x['snippets'].decode('utf-8') for x in
          client_data.create_tf_dataset_for_client(client_id)
          .as_numpy_iterator()]


def test_database_is_where_tff_looks(full_cache_dir):
  path = shakespeare.database_path(full_cache_dir)
  assert path == os.path.join(full_cache_dir, 'shakespeare.sqlite')
  # TFF's own download helper returns the existing file without fetching.
  from tensorflow_federated.python.simulation.datasets import download  # pylint: disable=g-import-not-at-top
  origin = ('https://storage.googleapis.com/tff-datasets-public/'
            'shakespeare.sqlite.lzma')
  assert download.get_compressed_file(origin, full_cache_dir) == path


def test_tff_load_data_reads_it(full_cache_dir, full_client_data):
  train, test = tff.simulation.datasets.shakespeare.load_data(
      cache_dir=full_cache_dir)
  ours_train, ours_test = full_client_data
  assert train.client_ids == ours_train.client_ids == test.client_ids
  assert 1000 < len(train.client_ids) < 1200
  witch = _snippets(train, 'MACBETH_FIRST_WITCH')
  assert witch[0] == ('When shall we three meet again\n'
                      'In thunder, lightning, or in rain?')
  assert train.element_type_structure['snippets'].dtype == 'string'


def test_tff_baseline_task_reads_it(full_cache_dir):
  task = tff.simulation.baselines.shakespeare.create_character_prediction_task(
      tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=4),
      sequence_length=80, cache_dir=full_cache_dir)
  dataset = task.datasets.train_data.create_tf_dataset_for_client(
      'HAMLET_HAMLET')
  x, y = next(iter(task.datasets.train_preprocess_fn(dataset)))
  assert x.shape == y.shape == (4, 80)
  assert (x[:, 1:].numpy() == y[:, :-1].numpy()).all()


def test_every_client_has_train_and_later_test(full_cache_dir):
  plays = shakespeare.parse_plays()
  clients = {c.client_id: c for c in shakespeare.build_clients(plays)}
  rows = _protos(shakespeare.database_path(full_cache_dir))
  stored = {}
  for split_name, client_id, proto in rows:
    snippet = example_proto.decode_example(proto)['snippets'][0]
    stored.setdefault((client_id, split_name), []).append(
        snippet.decode('utf-8'))
  assert {cid for cid, _ in stored} == set(clients)
  speeches = {}
  for play in plays:
    for speech in play.speeches:
      cid = shakespeare.client_id(play.title, speech.role)
      speeches.setdefault(cid, []).append(speech.text)
  for cid in clients:
    train, test = stored[(cid, 'train')], stored[(cid, 'test')]
    assert train and test
    # In play order, the test speeches are exactly the last ones.
    assert train + test == speeches[cid]
    assert len(test) == max(1, int(0.2 * (len(train) + len(test))))


def test_small_roles_are_dropped(full_client_data):
  train, _ = full_client_data
  plays = shakespeare.parse_plays()
  counts = {}
  for play in plays:
    for speech in play.speeches:
      key = shakespeare.client_id(play.title, speech.role)
      counts[key] = counts.get(key, 0) + 1
  assert set(train.client_ids) == {k for k, n in counts.items() if n >= 2}
  assert 'MACBETH_FIRST_APPARITION' not in train.client_ids  # One speech.


def test_client_ids_are_play_and_role(full_client_data):
  train, _ = full_client_data
  titles = {shakespeare.upper_snake(p.title): p.title
            for p in shakespeare.parse_plays()}
  assert len(titles) == 37
  for cid in train.client_ids:
    assert re.fullmatch(r'[A-Z0-9]+(_[A-Z0-9]+)+', cid), cid
    assert any(cid.startswith(t + '_') for t in titles), cid
  # Roles of different plays stay apart (TFF's data merges some).
  assert {'MACBETH_FIRST_WITCH', 'KING_LEAR_KING_LEAR', 'HAMLET_HAMLET',
          'A_MIDSUMMER_NIGHTS_DREAM_BOTTOM', 'HENRY_IV_PART_1_FALSTAFF',
          'HENRY_IV_PART_2_FALSTAFF'} <= set(train.client_ids)


def test_build_info_names_the_data(full_cache_dir):
  info = sql_writer.read_build_info(shakespeare.database_path(full_cache_dir))
  assert info['builder_version'] == shakespeare.BUILDER_VERSION == '2'
  # No parsing anomalies remain; each would be listed here, and a test of
  # parse_checks fails if any appears.
  assert info['num_anomalies'] == '0'
  assert json.loads(info['anomalies']) == []
  assert info['num_clients'] == str(len(shakespeare.build_clients(
      shakespeare.parse_plays())))
  assert re.fullmatch(r'[0-9a-f]{64}', info[sql_writer.CONTENT_HASH_KEY])


def test_rebuild_is_deterministic(full_cache_dir, tmp_path):
  again = shakespeare.build_database(str(tmp_path / 'shakespeare.sqlite'))
  assert _protos(again) == _protos(shakespeare.database_path(full_cache_dir))


def test_up_to_date_database_is_left_alone(small_cache_dir, small_plays):
  path = shakespeare.database_path(small_cache_dir)
  before = os.stat(path).st_mtime_ns
  start = time.monotonic()
  assert shakespeare.ensure_database(
      small_cache_dir, play_names=small_plays) == path
  assert time.monotonic() - start < 1.0
  assert os.stat(path).st_mtime_ns == before


def test_older_builder_version_is_rebuilt(tmp_path, small_plays):
  cache_dir = str(tmp_path)
  path = shakespeare.ensure_database(cache_dir,
                                     play_names=['tragedies/macbeth.md'])
  original = _protos(path)
  with sqlite3.connect(path) as con:
    con.execute(f'UPDATE {sql_writer.BUILD_INFO_TABLE} SET value = ? '
                "WHERE key = 'builder_version'", ('0',))
  shakespeare.ensure_database(cache_dir, play_names=['tragedies/macbeth.md'])
  info = sql_writer.read_build_info(path)
  assert info['builder_version'] == shakespeare.BUILDER_VERSION
  assert _protos(path) == original
  # A different source (here: another set of plays) is rebuilt too.
  shakespeare.ensure_database(cache_dir, play_names=small_plays)
  assert len(_protos(path)) > len(original)


def test_never_overwrites_a_foreign_database(tmp_path):
  path = tmp_path / 'shakespeare.sqlite'
  with sqlite3.connect(path) as con:  # Looks like TFF's real download.
    con.execute('CREATE TABLE examples (split_name TEXT, client_id TEXT, '
                'serialized_example_proto BLOB)')
    con.execute('CREATE TABLE client_metadata (client_id TEXT, '
                'split_name TEXT, num_examples INTEGER)')
  before = path.read_bytes()
  for force in (False, True):
    with pytest.raises(sql_writer.ForeignDatabaseError, match=str(path)):
      shakespeare.ensure_database(str(tmp_path), force=force)
  assert path.read_bytes() == before
  assert os.listdir(tmp_path) == ['shakespeare.sqlite']


def test_failed_build_leaves_no_temp_file(tmp_path, monkeypatch):
  def fail(*args, **kwargs):
    raise RuntimeError('interrupted')

  monkeypatch.setattr(shakespeare.example_proto, 'encode_example', fail)
  with pytest.raises(RuntimeError, match='interrupted'):
    shakespeare.ensure_database(str(tmp_path),
                                play_names=['tragedies/macbeth.md'])
  assert os.listdir(tmp_path) == []


def test_default_cache_dir(monkeypatch, tmp_path):
  monkeypatch.setenv(paths.CACHE_DIR_ENV, str(tmp_path / 'env'))
  assert shakespeare.database_path() == str(
      tmp_path / 'env' / 'shakespeare.sqlite')
  assert shakespeare.database_path(str(tmp_path / 'flag')) == str(
      tmp_path / 'flag' / 'shakespeare.sqlite')
  monkeypatch.delenv(paths.CACHE_DIR_ENV)
  monkeypatch.setenv('HOME', str(tmp_path / 'home'))
  assert paths.default_cache_dir() == str(
      tmp_path / 'home' / '.cache' / 'tff_lstm')


def test_build_is_fast(tmp_path):
  start = time.monotonic()
  shakespeare.build_database(str(tmp_path / 'shakespeare.sqlite'))
  assert time.monotonic() - start < 20
