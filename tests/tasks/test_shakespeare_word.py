"""Word-level Shakespeare: TFF Stack Overflow batches, our model, one round."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.data import shakespeare
from tff_lstm.data import word_prediction
from tff_lstm.tasks import model_config
from tff_lstm.tasks import registry
from tff_lstm.tasks import shakespeare_word

_PLAYS = ['tragedies/macbeth.md']
_SPEC = tff.simulation.baselines.ClientSpec(
    num_epochs=1, batch_size=4, max_elements=8, shuffle_buffer_size=1)
_TINY = model_config.ModelConfig(units=8, embedding_dim=8, seed=1)
_VOCAB_SIZE = 200  # Macbeth has more words, so some are OOV.


@pytest.fixture(scope='module')
def macbeth(tmp_path_factory):
  cache_dir = str(tmp_path_factory.mktemp('macbeth'))
  shakespeare.ensure_database(cache_dir, play_names=_PLAYS)
  return shakespeare.load_client_data(cache_dir, play_names=_PLAYS)


@pytest.fixture(scope='module')
def task(macbeth):
  return registry.create_task(
      'shakespeare_word', _SPEC, model_config=_TINY, vocab_size=_VOCAB_SIZE,
      sequence_length=12, client_data=macbeth)


def _first_batch(task, client_id='MACBETH_MACBETH'):
  dataset = task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client(client_id))
  return next(iter(dataset))


def test_batches_have_tff_stack_overflow_ids(task, macbeth):
  assert task.name == 'shakespeare_word'
  x, y = _first_batch(task)
  assert x.dtype == y.dtype == tf.int64
  assert x.shape == y.shape == (4, 12)
  special = word_prediction.get_special_tokens(_VOCAB_SIZE)
  x, y = x.numpy(), y.numpy()
  assert (x[:, 0] == special.beginning_of_sentence).all()
  assert (x[:, 1:] == y[:, :-1]).all()
  assert (y == special.out_of_vocab[0]).any()
  assert (y == special.end_of_sentence).any() and (y == 0).any()
  # "So foul and fair a day I have not seen." is Macbeth's first sentence.
  vocab = word_prediction.build_vocab(macbeth[0], _VOCAB_SIZE)
  ids = {w: i + 1 for i, w in enumerate(vocab)}
  assert x[0, 1:4].tolist() == [ids.get(w, special.out_of_vocab[0])
                                for w in ('so', 'foul', 'and')]


def test_model_predicts_every_id(task):
  model = task.keras_model_fn()
  assert model.output_shape == (None, 12, _VOCAB_SIZE + 4)
  assert model.get_layer('lstm_0').units == 8


def test_keras_fit_and_evaluate_are_finite(task):
  x, y = _first_batch(task)
  model = task.compiled_keras_model()
  history = model.fit(x, y, batch_size=4, verbose=0)
  assert np.isfinite(history.history['loss'][0])
  values = model.evaluate(x, y, verbose=0, return_dict=True)
  assert sorted(values) == ['accuracy', 'accuracy_without_oov',
                            'accuracy_without_oov_or_eos', 'loss']
  assert all(np.isfinite(v) for v in values.values())
  tff_model = task.model_fn()
  assert isinstance(tff_model, tff.learning.models.VariableModel)


def test_accepts_sentence_client_data(macbeth):
  words = tuple(word_prediction.to_word_client_data(d) for d in macbeth)
  task = shakespeare_word.create_task(_SPEC, model_config=_TINY, vocab_size=50,
                                      sequence_length=5, client_data=words)
  assert task.datasets.element_type_structure[0].shape.as_list() == [None, 5]


def test_bad_sizes_fail_before_reading_data():
  with pytest.raises(ValueError, match='vocab_size'):
    shakespeare_word.create_task(_SPEC, vocab_size=0, client_data=(None, None))


def test_one_federated_round(federated_runtime, task):
  process = learning_process.build_learning_process(
      task,
      fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5)))
  state = process.initialize()
  before = process.get_model_weights(state).trainable
  clients = [task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client(c))
             for c in ('MACBETH_MACBETH', 'MACBETH_LADY_MACBETH')]
  result = process.next(state, clients)
  after = process.get_model_weights(result.state).trainable
  train = result.metrics['client_work']['train']
  assert np.isfinite(train['loss'])
  assert train['num_examples'] > 0
  assert any(not np.allclose(b, a) for b, a in zip(before, after))
