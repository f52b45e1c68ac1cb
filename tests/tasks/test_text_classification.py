"""Classifying imported labelled texts: word ids, labels, one round."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.data import user_import
from tff_lstm.data import word_prediction
from tff_lstm.tasks import model_config
from tff_lstm.tasks import registry
from tff_lstm.tasks import text_classification

_SPEC = tff.simulation.baselines.ClientSpec(
    num_epochs=1, batch_size=3, shuffle_buffer_size=1)
_TINY = model_config.ModelConfig(units=8, embedding_dim=8, seed=1)
_ROWS = [
    ('ann', 'Great film, loved it!', 'pos'),
    ('ann', 'Dull.', 'neg'),
    ('ann', 'I loved the music and the great cast of this film', 'pos'),
    ('ann', 'Awful plot', 'neg'),
    ('bob', 'Loved it', 'pos'),
    ('bob', 'Dull and awful', 'neg'),
    ('bob', 'A great cast', 'pos'),
    ('bob', 'Unwatchable nonsense', 'neg'),
]


def _import(tmp, rows, name='reviews'):
  source = tmp / f'{name}.csv'
  source.write_text('client_id,text,label\n' + ''.join(
      f'{c},"{t}",{label}\n' for c, t, label in rows))
  path = str(tmp / f'{name}.sqlite')
  user_import.import_file(str(source), path, 'labelled_text')
  return path


@pytest.fixture(scope='module')
def task(tmp_path_factory):
  path = _import(tmp_path_factory.mktemp('reviews'), _ROWS)
  return registry.create_task('text_classification', _SPEC,
                              model_config=_TINY, database_path=path,
                              sequence_length=6, vocab_size=8)


def test_batches_are_padded_word_ids_and_labels(task):
  assert task.name == 'text_classification'
  x, y = next(iter(task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client('ann'))))
  assert x.dtype == y.dtype == tf.int64
  assert x.shape == (3, 6) and y.shape == (3,)
  assert y.numpy().tolist() == [1, 0, 1]  # Labels sorted: neg 0, pos 1.
  train_texts = [t for c, t, _ in _ROWS if c == 'ann'][:3] + [
      t for c, t, _ in _ROWS if c == 'bob'][:3]
  vocab = word_prediction.build_vocab(
      tff.simulation.datasets.TestClientData(
          {'all': {'snippets': train_texts}}), 8)
  ids = {w: i + 1 for i, w in enumerate(vocab)}
  oov = len(vocab) + 1

  def expected(text):
    words = word_prediction.tokenize(tf.constant(text)).numpy()[:6]
    row = [ids.get(w.decode(), oov) for w in words]
    return row + [0] * (6 - len(row))

  assert x.numpy().tolist() == [expected(t) for t in train_texts[:3]]
  assert x.numpy()[1].tolist()[2:] == [0, 0, 0, 0]  # 'dull .' padded.
  assert (x.numpy() == oov).any()


def test_model_and_keras_loss(task):
  x, y = next(iter(task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client('bob'))))
  model = task.compiled_keras_model()
  assert model.output_shape == (None, 2)
  assert model.get_layer('embedding').input_dim == 8 + 2
  history = model.fit(x, y, verbose=0)
  assert np.isfinite(history.history['loss'][0])
  values = model.evaluate(x, y, verbose=0, return_dict=True)
  assert sorted(values) == ['accuracy', 'loss']
  assert isinstance(task.model_fn(), tff.learning.models.VariableModel)


def test_test_split_is_the_later_rows(task):
  labels = [e['label'] for e in
           task.datasets.test_data.create_tf_dataset_for_client('ann')
           .as_numpy_iterator()]
  assert labels == [0]  # 'Awful plot'.


def test_needs_two_classes(tmp_path):
  path = _import(tmp_path, [(c, t, 'pos') for c, t, _ in _ROWS], 'one')
  with pytest.raises(ValueError, match='at least two classes'):
    text_classification.create_task(_SPEC, database_path=path)


def test_one_federated_round(federated_runtime, task):
  process = learning_process.build_learning_process(
      task,
      fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5)))
  state = process.initialize()
  before = process.get_model_weights(state).trainable
  clients = [task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client(c))
             for c in task.datasets.train_data.client_ids]
  result = process.next(state, clients)
  after = process.get_model_weights(result.state).trainable
  train = result.metrics['client_work']['train']
  assert np.isfinite(train['loss'])
  assert train['num_examples'] == 6
  assert any(not np.allclose(b, a) for b, a in zip(before, after))


def test_vectorized_cohort_matches_sequential(tmp_path,
                                             assert_cohort_matches_sequential):
  """Last-state LSTM, Keras' own cross-entropy and accuracy; batches of 2 give
  each client a short last batch, whose padding row has the real label 0."""
  spec = tff.simulation.baselines.ClientSpec(num_epochs=1, batch_size=2,
                                             shuffle_buffer_size=1)
  task = registry.create_task('text_classification', spec, model_config=_TINY,
                              database_path=_import(tmp_path, _ROWS),
                              sequence_length=6, vocab_size=8)
  clients = [task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client(c))
             for c in task.datasets.train_data.client_ids]
  assert any(int(x.shape[0]) == 1 for ds in clients for x, _ in ds)
  _, metrics = assert_cohort_matches_sequential(
      task, clients, fedavg.Config(optimizers.OptimizerConfig(
          learning_rate=0.5)), batch_size=2)
  assert metrics[0]['client_work/train/num_examples'] == 6
  assert 'client_work/train/accuracy' in metrics[0]
