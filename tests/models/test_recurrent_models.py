"""Each recurrent cell trains one federated round and changes the weights."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.models import classifier
from tff_lstm.models import forecaster
from tff_lstm.models import language_models
from tff_lstm.models import losses
from tff_lstm.models import metrics
from tff_lstm.models import recurrent
from tff_lstm.tasks import model_config
from tff_lstm.tasks import shakespeare_char

_SPEC = tff.simulation.baselines.ClientSpec(
    num_epochs=1, batch_size=4, max_elements=8, shuffle_buffer_size=1)


@pytest.mark.parametrize('cell_type', recurrent.CELL_TYPES)
def test_each_cell_trains_one_round(federated_runtime, macbeth_client_data,
                                    cell_type):
  task = shakespeare_char.create_task(
      _SPEC, sequence_length=20, client_data=macbeth_client_data,
      model_config=model_config.ModelConfig(cell_type=cell_type, units=8,
                                            num_layers=2, seed=3))
  keras_model = task.keras_model_fn()
  layer_types = {type(layer).__name__ for layer in keras_model.layers}
  assert {'lstm': 'FusedLSTM', 'keras_lstm': 'LSTM', 'gru': 'GRU',
          'simple_rnn': 'SimpleRNN'}[cell_type] in layer_types
  process = learning_process.build_learning_process(
      task,
      fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5)))
  state = process.initialize()
  before = process.get_model_weights(state).trainable
  ids = sorted(task.datasets.train_data.client_ids)[:3]
  data = [task.datasets.train_preprocess_fn(
      task.datasets.train_data.create_tf_dataset_for_client(c)) for c in ids]
  result = process.next(state, data)
  after = process.get_model_weights(result.state).trainable
  assert np.isfinite(result.metrics['client_work']['train']['loss'])
  assert all(not np.allclose(b, a) for b, a in zip(before, after))


def test_unknown_cell_type_names_the_valid_ones():
  with pytest.raises(ValueError, match='lstm, keras_lstm, gru, simple_rnn'):
    model_config.ModelConfig(cell_type='transformer')


def test_model_shapes():
  char_lm = language_models.build_char_lm(90, units=8, sequence_length=20)
  assert char_lm(tf.zeros([2, 20], tf.int64)).shape == (2, 20, 90)
  word_lm = language_models.build_word_lm(104, units=8, sequence_length=5)
  assert word_lm(tf.zeros([3, 5], tf.int64)).shape == (3, 5, 104)
  cls = classifier.build_sequence_classifier(50, 3, units=8)
  assert cls(tf.ones([4, 7], tf.int64)).shape == (4, 3)
  fc = forecaster.build_forecaster(2, 6, units=8)
  assert fc(tf.zeros([5, 6, 2])).shape == (5, 2)


def test_accuracy_and_loss_ignore_padding():
  y_true = tf.constant([[5, 6, 0, 0]], tf.int64)
  # Predicts 5 everywhere: right at position 0, wrong at 1, pads ignored.
  logits = tf.one_hot([[5, 5, 5, 5]], depth=10) * 10.0
  acc = metrics.MaskedCategoricalAccuracy([0])
  acc.update_state(y_true, logits)
  assert float(acc.result()) == pytest.approx(0.5)
  masked = losses.MaskedSparseCategoricalCrossentropy(pad_id=0)(y_true, logits)
  plain = tf.keras.losses.sparse_categorical_crossentropy(
      y_true[:, :2], logits[:, :2], from_logits=True)
  assert float(masked) == pytest.approx(float(tf.reduce_mean(plain)), rel=1e-6)
