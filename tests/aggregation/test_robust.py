"""Robust aggregation: a NaN or enormous client cannot wreck the model."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from tff_lstm.aggregation import config as config_lib
from tff_lstm.algorithms import fedavg
from tff_lstm.algorithms import learning_process
from tff_lstm.algorithms import optimizers
from tff_lstm.tasks import shakespeare_char
from tff_lstm.tasks import task as task_lib


def test_robust_mean_zeroes_an_enormous_client(federated_runtime):
  factory = config_lib.build_aggregator(
      config_lib.AggregationConfig(robust=True), 3, 'num_examples')
  process = factory.create(tff.TensorType(np.float32, [4]),
                           tff.TensorType(np.float32))
  updates = [np.full(4, 0.1, np.float32), np.full(4, 0.3, np.float32),
             np.array([1e6, 1, 1, 1], np.float32)]
  output = process.next(process.initialize(), updates, [1.0, 1.0, 1.0])
  assert output.measurements['zeroed_count'] == 1
  # Zeroed, not dropped: it still counts in the mean's denominator.
  np.testing.assert_allclose(output.result, np.full(4, 0.4 / 3), atol=1e-6)


# Clients that break the model: all-OOV inputs multiply the logits by a huge
# factor (enormous, finite update), all-EOS inputs make them NaN.
_HUGE_TOKEN, _NAN_TOKEN = shakespeare_char.OOV, shakespeare_char.EOS


def _poison(args):
  x, logits = args
  def flag(token):
    return tf.reduce_all(tf.equal(x, token), axis=1)[:, tf.newaxis, tf.newaxis]
  logits *= tf.where(flag(_HUGE_TOKEN), 1e4, 1.0)
  return logits + tf.where(flag(_NAN_TOKEN), np.float32(np.nan), 0.0)


def _poisoned_task(task):
  """`task` whose model misbehaves for a client sending the tokens above."""

  def keras_model_fn():
    base = task.keras_model_fn()
    inputs = tf.keras.Input(shape=base.input_shape[1:], dtype=tf.int64)
    logits = tf.keras.layers.Lambda(_poison)([inputs, base(inputs)])
    return tf.keras.Model(inputs, logits)

  return task_lib.Task(task.name, task.datasets, keras_model_fn, task.loss_fn,
                       task.metrics_fns)


def _all(token, dataset):
  """`dataset` with every input token replaced by `token`."""
  return dataset.map(
      lambda x, y: (tf.fill(tf.shape(x), tf.cast(token, x.dtype)), y))


@pytest.mark.parametrize('robust', [True, False])
def test_round_survives_nan_and_enormous_clients(federated_runtime, char_task,
                                                 char_datasets, robust):
  task = _poisoned_task(char_task)
  config = config_lib.AggregationConfig(robust=robust)
  process = learning_process.build_learning_process(
      task,
      fedavg.Config(optimizers.OptimizerConfig(learning_rate=0.5)),
      model_aggregator=config_lib.build_aggregator(config, 5, 'num_examples'))
  data = char_datasets(5)
  data[3] = _all(_HUGE_TOKEN, data[3])
  data[4] = _all(_NAN_TOKEN, data[4])
  state = process.initialize()
  before = process.get_model_weights(state).trainable
  state, metrics = process.next(state, data)
  after = process.get_model_weights(state).trainable
  moved = np.sqrt(sum(np.sum((a - b)**2) for a, b in zip(after, before)))
  # TFF's client work already drops non-finite updates: the NaN client never
  # breaks the round. The enormous one only robust aggregation stops.
  assert all(np.all(np.isfinite(w)) for w in after)
  if robust:
    assert metrics['aggregator']['zeroed_count'] >= 1
    # The remaining mean is clipped to the adaptive norm, initially 1.
    assert 0 < moved <= 1.0 + 1e-5
  else:
    assert moved > 10  # the enormous client dominates the mean
