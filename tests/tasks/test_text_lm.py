"""Character LM on imported texts: Shakespeare's ids and model, on `text`."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_federated.python.simulation.baselines.shakespeare import char_prediction_preprocessing as tff_char_preprocessing

from tff_lstm.data import user_import
from tff_lstm.tasks import model_config
from tff_lstm.tasks import registry
from tff_lstm.tasks import shakespeare_char
from tff_lstm.tasks import text_lm

_SPEC = tff.simulation.baselines.ClientSpec(
    num_epochs=1, batch_size=2, shuffle_buffer_size=1)


@pytest.fixture(scope='module')
def text_db(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('text')
  source = tmp / 'diary.jsonl'
  lines = [('ann', 'Dear diary, today was long.'), ('ann', 'Rain again.'),
           ('ann', 'Sun!'), ('bob', 'Hello world'), ('bob', 'Bye.')]
  source.write_text(''.join(
      f'{{"client_id": "{c}", "text": "{t}"}}\n' for c, t in lines))
  path = str(tmp / 'diary.sqlite')
  user_import.import_file(str(source), path, 'text')
  return path


def test_default_is_the_shakespeare_speeches_offline(tmp_path):
  task = text_lm.create_task(_SPEC, cache_dir=str(tmp_path),
                             model_config=model_config.ModelConfig(units=8))
  assert (tmp_path / 'shakespeare_text.sqlite').is_file()
  ids = task.datasets.train_data.client_ids
  assert 'MACBETH_MACBETH' in ids and len(ids) > 1000


def test_batches_are_shakespeare_character_ids(text_db):
  task = registry.create_task(
      'text_lm', _SPEC, database_path=text_db, sequence_length=10,
      cache_dir='/unused', model_config=model_config.ModelConfig(
          units=8, num_layers=1, seed=1))
  assert task.name == 'text_lm'
  assert task.datasets.train_data.client_ids == ['ann', 'bob']
  x, y = next(iter(task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client('ann'))))
  assert x.dtype == y.dtype == tf.int64
  assert x.shape == y.shape == (2, 10)
  ids = {c: i + 1 for i, c in enumerate(tff_char_preprocessing.CHAR_VOCAB)}
  # Ann's first text, 'Dear diary, ...', after BOS; no character is lost.
  assert x.numpy()[0].tolist() == [shakespeare_char.BOS] + [
      ids[c] for c in 'Dear diar']
  assert y.numpy()[0].tolist() == [ids[c] for c in 'Dear diary']
  model = task.compiled_keras_model()
  assert model.output_shape == (None, 10, shakespeare_char.VOCAB_SIZE)
  history = model.fit(x, y, batch_size=2, verbose=0)
  assert np.isfinite(history.history['loss'][0])
  assert isinstance(task.model_fn(), tff.learning.models.VariableModel)
