"""FusedLSTM is tf.keras.layers.LSTM: same weights, outputs and gradients."""

import numpy as np
import pytest
import tensorflow as tf

from tff_lstm.models import fused_lstm
from tff_lstm.models import language_models


def _inputs():
  tf.keras.utils.set_random_seed(1)
  x = tf.random.normal([3, 9, 5])
  # Trailing padding of different lengths, as in padded text batches.
  mask = tf.sequence_mask([9, 5, 2], 9)
  return x, mask


def _pair(return_sequences, units=6):
  keras_layer = tf.keras.layers.LSTM(units, return_sequences=return_sequences)
  fused = fused_lstm.FusedLSTM(units, return_sequences=return_sequences)
  x, _ = _inputs()
  keras_layer(x)
  fused(x)
  # Perturb the initial weights so zero biases do not hide a gate mix-up.
  rng = np.random.default_rng(0)
  weights = [w + 0.3 * rng.standard_normal(w.shape).astype(np.float32)
             for w in keras_layer.get_weights()]
  keras_layer.set_weights(weights)
  fused.set_weights(weights)
  return keras_layer, fused


def _value_and_grads(layer, x, mask):
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = layer(x, mask=mask)
    loss = tf.reduce_sum(y * tf.sin(3.0 * y))
  return y, tape.gradient(loss, [x] + layer.trainable_variables)


def _holes(mask):
  """Masked steps in the middle of sequences too, not only trailing padding."""
  return tf.logical_and(mask, tf.constant([[True, False, True] * 3] * 3))


@pytest.mark.parametrize('return_sequences', [True, False])
@pytest.mark.parametrize('masking', ['none', 'trailing', 'holes'])
# 160 units: more than one column block's width, and not a multiple of it.
@pytest.mark.parametrize('units', [6, 160])
def test_same_outputs_and_gradients_as_keras_lstm(return_sequences, masking,
                                                   units):
  x, mask = _inputs()
  mask = {'none': None, 'trailing': mask, 'holes': _holes(mask)}[masking]
  keras_layer, fused = _pair(return_sequences, units)
  y_keras, g_keras = _value_and_grads(keras_layer, x, mask)
  y_fused, g_fused = _value_and_grads(fused, x, mask)
  np.testing.assert_allclose(y_fused, y_keras, atol=1e-5)
  # At 160 units gradients reach ~10 and sum over 160 units in another order:
  # float rounding of 1.6e-5 (the layer before column blocks differed as much).
  tolerance = dict(atol=1e-5) if units < 100 else dict(rtol=1e-5, atol=5e-5)
  for a, b in zip(g_fused, g_keras):
    np.testing.assert_allclose(a, b, **tolerance)
  assert float(tf.reduce_max(tf.abs(g_keras[2]))) > 1e-3  # not trivially 0


@pytest.mark.parametrize('clients_known_when_traced', [True, False])
def test_several_clients_compute_what_each_computes_alone(
    clients_known_when_traced):
  """Two clients run the column-blocked recurrence (160 units: one block
  partial), one client alone the whole product; where the count is known
  only when the function runs, a cond picks between them. Same outputs and
  gradients either way."""
  clients, batch, steps, dim, units = 2, 3, 9, 5, 160
  rng = np.random.default_rng(2)
  def normal(*shape):
    return tf.constant(0.3 * rng.standard_normal(shape), tf.float32)
  args = (normal(clients, batch, steps, dim), normal(clients, dim, 4 * units),
          normal(clients, units, 4 * units), normal(clients, 4 * units),
          tf.sequence_mask([[9, 5, 2], [4, 9, 7]], steps))

  def value_and_grads(x, kernel, recurrent_kernel, bias, mask):
    variables = [x, kernel, recurrent_kernel, bias]
    with tf.GradientTape() as tape:
      tape.watch(variables)
      y = fused_lstm.lstm_sequence(x, kernel, recurrent_kernel, bias, mask)
      loss = tf.reduce_sum(y * tf.sin(3.0 * y))
    return [y] + tape.gradient(loss, variables)

  if not clients_known_when_traced:
    value_and_grads = tf.function(value_and_grads, input_signature=[
        tf.TensorSpec([None] + a.shape.as_list()[1:], a.dtype) for a in args])
  together = value_and_grads(*args)
  alone = [value_and_grads(*[a[k:k + 1] for a in args])
           for k in range(clients)]
  for i, value in enumerate(together):
    np.testing.assert_allclose(
        value, tf.concat([one[i] for one in alone], axis=0),
        rtol=1e-5, atol=5e-5)
  assert float(tf.reduce_max(tf.abs(together[3]))) > 1e-3


def _recurrence_bodies(loop_body_ops, clients, units=16):
  """Op types of the forward and reverse loop bodies, traced for `clients`."""
  batch, steps, dim = 4, 6, 5
  rng = np.random.default_rng(3)
  args = [tf.constant(rng.standard_normal(s), tf.float32) for s in (
      (clients, batch, steps, dim), (clients, dim, 4 * units),
      (clients, units, 4 * units), (clients, 4 * units))]

  @tf.function
  def grads(x, kernel, recurrent_kernel, bias):
    variables = [kernel, recurrent_kernel, bias]
    with tf.GradientTape() as tape:
      tape.watch(variables)
      loss = tf.reduce_sum(
          fused_lstm.lstm_sequence(x, kernel, recurrent_kernel, bias) ** 2)
    return tape.gradient(loss, variables)

  bodies = loop_body_ops(grads, *args)
  assert len(bodies) == 2  # the forward and the reverse recurrence
  return bodies


def test_one_clients_timesteps_are_two_dimensional_matmuls(loop_body_ops):
  """A lone client's recurrent products are plain `MatMul`s: TF's batched
  matmul of one batch is about twice as slow on [4, 256] x [256, 1024]
  with oneDNN (the lone longest client of a real round runs nothing else)."""
  for ops in _recurrence_bodies(loop_body_ops, clients=1):
    assert 'MatMul' in ops and 'BatchMatMulV2' not in ops, ops


@pytest.mark.parametrize('clients', [1, 2])
def test_timestep_bodies_hold_only_the_recurrence(loop_body_ops, clients):
  """At one client a timestep costs about a fixed time per op, so the loop
  bodies stay small: the forward step writes three arrays (outputs, gate
  sigmoids, cell states), and the reverse step reads one block of factors
  computed for all timesteps before its loop. The bodies held 32 and 48
  such ops when each reverse step rebuilt its factors and the forward wrote
  five arrays."""
  bodies = _recurrence_bodies(loop_body_ops, clients)
  for ops in bodies:
    compute = [op for op in ops if op not in ('Const', 'Identity', 'Pack')]
    assert len(compute) <= 25, sorted(compute)
  assert sorted(ops.count('TensorListSetItem') for ops in bodies) == [1, 3]


def test_same_inside_tf_function():
  x, mask = _inputs()
  keras_layer, fused = _pair(True)
  graph = tf.function(_value_and_grads)
  y_keras, g_keras = graph(keras_layer, x, mask)
  y_fused, g_fused = graph(fused, x, mask)
  np.testing.assert_allclose(y_fused, y_keras, atol=1e-5)
  for a, b in zip(g_fused, g_keras):
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_weights_interchange_with_a_keras_lstm_model():
  fused_model = language_models.build_char_lm(
      20, units=8, cell_type='lstm', sequence_length=7, seed=0)
  keras_model = language_models.build_char_lm(
      20, units=8, cell_type='keras_lstm', sequence_length=7, seed=1)
  assert [v.shape for v in fused_model.trainable_variables] == [
      v.shape for v in keras_model.trainable_variables]
  keras_model.set_weights(fused_model.get_weights())
  tokens = tf.constant([[3, 4, 5, 6, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7]],
                       tf.int64)
  np.testing.assert_allclose(fused_model(tokens), keras_model(tokens),
                             atol=1e-5)


def test_initial_forget_bias_is_one_as_in_keras():
  layer = fused_lstm.FusedLSTM(4)
  layer(tf.zeros([1, 2, 3]))
  np.testing.assert_array_equal(layer.bias.numpy(), [0] * 4 + [1] * 4 + [0] * 8)
