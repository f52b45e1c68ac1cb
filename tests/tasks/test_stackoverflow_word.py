"""Stack Overflow: a missing database fails at once; a present one is wired."""

import os
import time

import numpy as np
import pytest
import tensorflow_federated as tff

from tff_lstm.data import example_proto
from tff_lstm.data import sql_writer
from tff_lstm.data import stackoverflow
from tff_lstm.tasks import model_config
from tff_lstm.tasks import registry
from tff_lstm.tasks import stackoverflow_word

_SPEC = tff.simulation.baselines.ClientSpec(
    num_epochs=1, batch_size=2, shuffle_buffer_size=1)
_TINY = model_config.ModelConfig(units=8, embedding_dim=8, seed=1)


def _post(tokens):
  return example_proto.encode_example({
      'creation_date': '2010-01-08 09:34:05 UTC', 'score': 1,
      'tags': 'python', 'title': 'a title', 'tokens': tokens, 'type': 'answer'})


@pytest.fixture
def stackoverflow_dir(tmp_path):
  """A tiny database in the schema of TFF's stackoverflow.sqlite."""
  rows = [
      ('train', 'user_1', _post('how do i read it ?')),
      ('train', 'user_1', _post('use sqldataset .')),
      ('heldout', 'user_2', _post('thanks .')),
      ('test', 'user_1', _post('it works now .')),
  ]
  sql_writer.write_database(
      str(tmp_path / 'stackoverflow.sqlite'), rows, {'builder': 'test'})
  return str(tmp_path)


@pytest.mark.parametrize('kwarg', ['cache_dir', 'database_path'])
def test_missing_database_fails_fast(tmp_path, kwarg):
  start = time.monotonic()
  with pytest.raises(stackoverflow.StackOverflowNotFoundError) as error:
    registry.create_task('stackoverflow_word', _SPEC,
                         **{kwarg: str(tmp_path)})
  assert time.monotonic() - start < 5
  assert str(tmp_path / 'stackoverflow.sqlite') in str(error.value)
  assert os.listdir(tmp_path) == []  # Nothing was downloaded.


def test_missing_word_counts_fail_fast(stackoverflow_dir):
  with pytest.raises(stackoverflow.StackOverflowNotFoundError,
                     match='word_count'):
    stackoverflow_word.create_task(_SPEC, cache_dir=stackoverflow_dir)


def test_builds_on_the_database(stackoverflow_dir, monkeypatch):
  asked = []

  def load_vocab(cache_dir, vocab_size):
    asked.append((cache_dir, vocab_size))
    return ['.', 'it', 'i', 'read']

  monkeypatch.setattr(stackoverflow, 'load_vocab', load_vocab)
  task = stackoverflow_word.create_task(
      _SPEC, model_config=_TINY, vocab_size=4, sequence_length=6,
      database_path=os.path.join(stackoverflow_dir, 'stackoverflow.sqlite'))
  assert asked == [(stackoverflow_dir, 4)]
  assert task.name == 'stackoverflow_word'
  assert task.datasets.validation_data.client_ids == ['user_2']
  assert task.datasets.test_data.client_ids == ['user_1']
  x, y = next(iter(task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client('user_1'))))
  # BOS=6; "how do i read it ?" -> OOV 5, OOV, i=3, read=4, it=2, then cut.
  assert x.numpy()[0].tolist() == [6, 5, 5, 3, 4, 2]
  assert y.numpy()[1].tolist() == [5, 5, 1, 7, 0, 0]  # "use sqldataset ." EOS
  model = task.compiled_keras_model()
  loss = model.evaluate(x, y, verbose=0, return_dict=True)['loss']
  assert np.isfinite(loss)
