"""A Keras language model as a pure function of per-client stacked weights.

The vectorized cohort trains K clients' copies of one model at once: every
weight gets a leading client axis and every layer becomes a batched op. This
module reads the layer sequence of the task's Keras model once and returns
`forward(weights, tokens) -> logits` over that stacked layout, so the cohort
trains exactly the model the sequential path trains (same weights, same
order as `model.trainable_variables`).
"""

from collections.abc import Callable, Sequence

import tensorflow as tf

from tff_lstm.models import fused_lstm

Forward = Callable[[Sequence[tf.Tensor], tf.Tensor], tf.Tensor]


def _embedding(layer):
  def apply(weights, tokens, mask):
    del mask
    (table,) = weights
    return tf.gather(table, tokens, batch_dims=1), (
        tf.not_equal(tokens, 0) if layer.mask_zero else None)
  return 1, apply


def _lstm(layer):
  if not layer.return_sequences:
    raise ValueError(f'Layer {layer.name!r}: the vectorized cohort supports '
                     'LSTMs that return sequences (language models).')

  def apply(weights, x, mask):
    kernel, recurrent_kernel, bias = weights
    return fused_lstm.lstm_sequence(x, kernel, recurrent_kernel, bias,
                                    mask), mask
  return 3, apply


def _dense(layer):
  activation = layer.activation

  def apply(weights, x, mask):
    kernel, bias = weights
    return activation(tf.einsum('kbtu,kuv->kbtv', x, kernel)
                      + bias[:, tf.newaxis, tf.newaxis, :]), mask
  return 2, apply


def _layer_fn(layer):
  if isinstance(layer, tf.keras.layers.InputLayer):
    return None
  if isinstance(layer, tf.keras.layers.Embedding):
    return _embedding(layer)
  if isinstance(layer, (tf.keras.layers.LSTM, fused_lstm.FusedLSTM)):
    return _lstm(layer)
  if isinstance(layer, tf.keras.layers.Dense):
    return _dense(layer)
  raise ValueError(
      f'The vectorized cohort does not support layer {layer.name!r} '
      f'({type(layer).__name__}); it runs Embedding -> LSTM -> Dense language '
      'models. Use --client_parallelism=sequential for this model.')


def build_forward(keras_model: tf.keras.Model,
                  compute_dtype: tf.DType = tf.float32) -> Forward:
  """`forward(weights, tokens [K,B,T]) -> logits [K,B,T,V]` for this model.

  With `compute_dtype=tf.bfloat16` (mixed precision) the weights are cast for
  the computation only: the float32 weights get float32 gradients (the cast's
  gradient casts back), and the logits come back as float32 for the loss.

  Raises:
    ValueError: the model has a layer (GRU, SimpleRNN, ...) the cohort does
      not batch, naming it.
  """
  steps = []
  position = 0
  expected = [tuple(v.shape) for v in keras_model.trainable_variables]
  found = []
  for layer in keras_model.layers:
    fn = _layer_fn(layer)
    if fn is None:
      continue
    count, apply = fn
    found.extend(tuple(v.shape) for v in layer.trainable_variables)
    steps.append((position, count, apply))
    position += count
  if found != expected:
    raise ValueError('The vectorized cohort needs a sequential model whose '
                     'trainable variables are its layers\' weights in order.')

  def forward(weights, tokens):
    weights = [tf.cast(w, compute_dtype) for w in weights]
    x, mask = tokens, None
    for start, count, apply in steps:
      x, mask = apply(weights[start:start + count], x, mask)
    return tf.cast(x, tf.float32)

  return forward
