"""Stack Overflow via TFF's real loader; a missing file fails fast, offline."""

import os
import time

import pytest

from tff_lstm.data import example_proto
from tff_lstm.data import sql_writer
from tff_lstm.data import stackoverflow


def _post(tokens, score, kind='answer'):
  return example_proto.encode_example({
      'creation_date': '2010-01-08 09:34:05 UTC',
      'score': score,
      'tags': 'python|sqlite',
      'title': 'reading sqlite from tensorflow',
      'tokens': tokens,
      'type': kind,
  })


@pytest.fixture
def stackoverflow_dir(tmp_path):
  """A tiny database in the schema of TFF's stackoverflow.sqlite."""
  rows = [
      ('train', 'user_1', _post('how do i read it ?', 3, 'question')),
      ('train', 'user_1', _post('use sqldataset .', -1)),
      ('heldout', 'user_10', _post('thanks .', 0)),
      ('test', 'user_1', _post('it works now .', 7)),
  ]
  sql_writer.write_database(
      str(tmp_path / 'stackoverflow.sqlite'), rows, {'builder': 'test'})
  return str(tmp_path)


def test_loads_through_tff(stackoverflow_dir):
  train, heldout, test = stackoverflow.load_client_data(stackoverflow_dir)
  assert train.client_ids == ['user_1']
  assert heldout.client_ids == ['user_10']
  assert test.client_ids == ['user_1']
  posts = list(train.create_tf_dataset_for_client('user_1').as_numpy_iterator())
  assert [p['tokens'] for p in posts] == [b'how do i read it ?',
                                          b'use sqldataset .']
  assert [p['score'] for p in posts] == [3, -1]
  assert posts[0]['type'] == b'question'
  assert sorted(posts[0]) == ['creation_date', 'score', 'tags', 'title',
                              'tokens', 'type']


def test_accepts_the_file_path(stackoverflow_dir):
  path = os.path.join(stackoverflow_dir, 'stackoverflow.sqlite')
  train, _, _ = stackoverflow.load_client_data(path)
  assert train.client_ids == ['user_1']
  with pytest.raises(ValueError, match='stackoverflow.sqlite'):
    stackoverflow.load_client_data(
        os.path.join(stackoverflow_dir, 'other.sqlite'))


def test_missing_database_fails_fast_without_network(tmp_path):
  start = time.monotonic()
  with pytest.raises(stackoverflow.StackOverflowNotFoundError) as error:
    stackoverflow.load_client_data(str(tmp_path))
  assert time.monotonic() - start < 5
  message = str(error.value)
  assert str(tmp_path / 'stackoverflow.sqlite') in message
  assert 'stackoverflow.sqlite.lzma' in message
  assert os.listdir(tmp_path) == []  # TFF was never asked to download.


def test_missing_or_wrong_word_counts(tmp_path):
  with pytest.raises(stackoverflow.StackOverflowNotFoundError,
                     match='word_count'):
    stackoverflow.load_vocab(str(tmp_path))
  archive = tmp_path / stackoverflow.WORD_COUNT_ARCHIVE
  archive.parent.mkdir()
  archive.write_bytes(b'not the archive')
  with pytest.raises(stackoverflow.StackOverflowNotFoundError,
                     match='SHA-256'):
    stackoverflow.load_vocab(str(tmp_path))
