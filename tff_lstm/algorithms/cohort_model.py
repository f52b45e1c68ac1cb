"""A Keras recurrent model as a pure function of per-client stacked weights.

The vectorized cohort trains K clients' copies of one model at once: every
weight gets a leading client axis and every layer becomes a batched op. This
module reads the layer sequence of the task's Keras model once and returns
`forward(weights, inputs) -> outputs` over that stacked layout, so the cohort
trains exactly the model the sequential path trains (same weights, same
order as `model.trainable_variables`).

Supported: Embedding, our fused LSTM and Keras' LSTM, GRU (Keras' default
reset-after form) and SimpleRNN, each returning sequences or its last state,
and Dense. The LSTM runs as `fused_lstm` (weight gradients once per
sequence), and two LSTMs in a row as `stacked_lstm` (the same, with their
recurrences side by side for a lone client); GRU and SimpleRNN run as a
plain batched recurrence that TensorFlow differentiates, which is correct
but has none of the fused LSTM's speed-ups.
"""

from collections.abc import Callable, Sequence

import tensorflow as tf

from tff_lstm.models import fused_lstm
from tff_lstm.models import stacked_lstm

Forward = Callable[[Sequence[tf.Tensor], tf.Tensor], tf.Tensor]


def _embedding(layer):
  def apply(weights, tokens, mask):
    del mask
    (table,) = weights
    return tf.gather(table, tokens, batch_dims=1), (
        tf.not_equal(tokens, 0) if layer.mask_zero else None)
  return 1, apply


def _last_or_all(layer, outputs):
  """Keras' masked recurrences carry the state over masked steps, so the
  last output is the final state whether or not the sequence is padded."""
  return outputs if layer.return_sequences else outputs[:, :, -1]


def _lstm(layer):
  def apply(weights, x, mask):
    kernel, recurrent_kernel, bias = weights
    outputs = fused_lstm.lstm_sequence(x, kernel, recurrent_kernel, bias, mask)
    return _last_or_all(layer, outputs), (
        mask if layer.return_sequences else None)
  return 3, apply


def _is_lstm(layer):
  return isinstance(layer, (tf.keras.layers.LSTM, fused_lstm.FusedLSTM))


def _stacked_lstm(first, second):
  """Two LSTM layers in a row, the first returning sequences, as one step:
  `stacked_lstm` runs their recurrences side by side for a lone client."""
  def apply(weights, x, mask):
    outputs = stacked_lstm.stacked_lstm_sequence(x, weights[:3], weights[3:],
                                                 mask)
    return _last_or_all(second, outputs), (
        mask if second.return_sequences else None)
  return 6, apply


def _recurrence(x, mask, initial_h, step):
  """Runs `h = step(x_t, h)` over time for [K, B, T, ...] inputs.

  A masked step keeps h and outputs it again, as Keras does.
  """
  x_tm = tf.transpose(x, [2, 0, 1, 3])
  if mask is None:
    mask_tm = tf.ones(tf.shape(x_tm)[:3], x.dtype)
  else:
    mask_tm = tf.cast(tf.transpose(mask, [2, 0, 1]), x.dtype)
  num_steps = tf.shape(x_tm)[0]
  outputs = tf.TensorArray(x.dtype, size=num_steps)

  def body(t, h, outputs):
    m = mask_tm[t][..., tf.newaxis]
    h = m * step(x_tm[t], h) + (1.0 - m) * h
    return t + 1, h, outputs.write(t, h)

  _, _, outputs = tf.while_loop(lambda t, *_: t < num_steps, body,
                                (tf.constant(0), initial_h, outputs))
  return tf.transpose(outputs.stack(), [1, 2, 0, 3])


def _zero_state(x, units):
  return tf.zeros(tf.concat([tf.shape(x)[:2], [units]], 0), x.dtype)


def _gru(layer):
  if not layer.reset_after or layer.recurrent_activation.__name__ != 'sigmoid' \
      or layer.activation.__name__ != 'tanh':
    raise ValueError(f'Layer {layer.name!r}: the vectorized cohort batches '
                     'GRUs with reset_after=True and sigmoid/tanh activations '
                     '(Keras\' defaults).')
  units = layer.units

  def apply(weights, x, mask):
    kernel, recurrent_kernel, bias = weights
    xw = tf.einsum('kbti,kig->kbtg', x, kernel) + bias[:, 0, tf.newaxis,
                                                       tf.newaxis]
    recurrent_bias = bias[:, 1, tf.newaxis]

    def step(xw_t, h):
      inner = tf.linalg.matmul(h, recurrent_kernel) + recurrent_bias
      x_z, x_r, x_h = tf.split(xw_t, 3, axis=-1)
      r_z, r_r, r_h = tf.split(inner, 3, axis=-1)
      z = tf.sigmoid(x_z + r_z)
      r = tf.sigmoid(x_r + r_r)
      return z * h + (1.0 - z) * tf.tanh(x_h + r * r_h)

    outputs = _recurrence(xw, mask, _zero_state(x, units), step)
    return _last_or_all(layer, outputs), (
        mask if layer.return_sequences else None)
  return 3, apply


def _simple_rnn(layer):
  if layer.activation.__name__ != 'tanh':
    raise ValueError(f'Layer {layer.name!r}: the vectorized cohort batches '
                     'SimpleRNNs with tanh activation (Keras\' default).')
  units = layer.units

  def apply(weights, x, mask):
    kernel, recurrent_kernel, bias = weights
    xw = tf.einsum('kbti,kiu->kbtu', x, kernel) + bias[:, tf.newaxis,
                                                       tf.newaxis]
    outputs = _recurrence(
        xw, mask, _zero_state(x, units),
        lambda xw_t, h: tf.tanh(xw_t + tf.linalg.matmul(h, recurrent_kernel)))
    return _last_or_all(layer, outputs), (
        mask if layer.return_sequences else None)
  return 3, apply


def _dense(layer):
  activation = layer.activation

  def apply(weights, x, mask):
    kernel, bias = weights
    if len(x.shape) == 4:       # [K, B, T, U]: a sequence output
      out = tf.einsum('kbtu,kuv->kbtv', x, kernel)
      bias = bias[:, tf.newaxis, tf.newaxis, :]
    else:                       # [K, B, U]: a last state
      out = tf.einsum('kbu,kuv->kbv', x, kernel)
      bias = bias[:, tf.newaxis, :]
    return activation(out + bias), mask
  return 2, apply


def _layer_fn(layer):
  if isinstance(layer, tf.keras.layers.Embedding):
    return _embedding(layer)
  if _is_lstm(layer):
    return _lstm(layer)
  if isinstance(layer, tf.keras.layers.GRU):
    return _gru(layer)
  if isinstance(layer, tf.keras.layers.SimpleRNN):
    return _simple_rnn(layer)
  if isinstance(layer, tf.keras.layers.Dense):
    return _dense(layer)
  raise ValueError(
      f'The vectorized cohort does not support layer {layer.name!r} '
      f'({type(layer).__name__}); it runs Embedding, LSTM, GRU, SimpleRNN '
      'and Dense layers. Use --client_parallelism=sequential for this model.')


def build_forward(keras_model: tf.keras.Model,
                  compute_dtype: tf.DType = tf.float32) -> Forward:
  """`forward(weights, inputs [K,B,...]) -> outputs [K,B,...]` for this model.

  With `compute_dtype=tf.bfloat16` (mixed precision) the weights are cast for
  the computation only: the float32 weights get float32 gradients (the cast's
  gradient casts back), and the logits come back as float32 for the loss.

  Raises:
    ValueError: the model has a layer the cohort does not batch, naming it.
  """
  steps = []
  position = 0
  expected = [tuple(v.shape) for v in keras_model.trainable_variables]
  found = []
  layers = [layer for layer in keras_model.layers
            if not isinstance(layer, tf.keras.layers.InputLayer)]
  while layers:
    layer = layers.pop(0)
    if (_is_lstm(layer) and layer.return_sequences and layers
        and _is_lstm(layers[0])):
      second = layers.pop(0)
      count, apply = _stacked_lstm(layer, second)
      found.extend(tuple(v.shape) for v in layer.trainable_variables
                   + second.trainable_variables)
    else:
      count, apply = _layer_fn(layer)
      found.extend(tuple(v.shape) for v in layer.trainable_variables)
    steps.append((position, count, apply))
    position += count
  if found != expected:
    raise ValueError('The vectorized cohort needs a sequential model whose '
                     'trainable variables are its layers\' weights in order.')

  def forward(weights, inputs):
    weights = [tf.cast(w, compute_dtype) for w in weights]
    x, mask = inputs, None
    if x.dtype.is_floating:
      x = tf.cast(x, compute_dtype)
    for start, count, apply in steps:
      x, mask = apply(weights[start:start + count], x, mask)
    return tf.cast(x, tf.float32)

  return forward
