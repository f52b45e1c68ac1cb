"""The recurrent cell as a choice: one flag switches LSTM, GRU and SimpleRNN.

'lstm' is our `FusedLSTM`: the same function and weights as Keras' LSTM with
a faster backward pass on CPU. 'keras_lstm' is `tf.keras.layers.LSTM` itself,
kept for comparison and for checking equivalence.
"""

from typing import Optional

import tensorflow as tf

from tff_lstm.models import fused_lstm

CELL_TYPES = ('lstm', 'keras_lstm', 'gru', 'simple_rnn')

_LAYERS = {
    'lstm': fused_lstm.FusedLSTM,
    'keras_lstm': tf.keras.layers.LSTM,
    'gru': tf.keras.layers.GRU,
    'simple_rnn': tf.keras.layers.SimpleRNN,
}


def check_cell_type(cell_type: str) -> str:
  if cell_type not in _LAYERS:
    raise ValueError(f'Unknown cell type {cell_type!r}; valid: '
                     f'{", ".join(CELL_TYPES)}.')
  return cell_type


def recurrent_layer(cell_type: str, units: int, *, return_sequences: bool,
                    name: str) -> tf.keras.layers.Layer:
  """A Keras recurrent layer of `cell_type` with `units` units."""
  if units <= 0:
    raise ValueError(f'Recurrent layer {name!r} needs units > 0, got {units}.')
  return _LAYERS[check_cell_type(cell_type)](
      units, return_sequences=return_sequences, name=name)


def recurrent_stack(x, cell_type: str, units: int, num_layers: int, *,
                    return_sequences: bool):
  """Applies `num_layers` stacked layers; only the last may drop the time axis."""
  if num_layers < 1:
    raise ValueError(f'num_layers must be >= 1, got {num_layers}.')
  for i in range(num_layers):
    last = i == num_layers - 1
    x = recurrent_layer(cell_type, units,
                        return_sequences=return_sequences or not last,
                        name=f'{cell_type}_{i}')(x)
  return x


def token_encoder(vocab_size: int, embedding_dim: int, cell_type: str,
                  units: int, num_layers: int, *, return_sequences: bool,
                  sequence_length: Optional[int], seed: Optional[int]):
  """Token ids -> masked embedding -> recurrent stack: every text model's trunk.

  Returns `(inputs, outputs)` for the caller's head. Id 0 is padding:
  `mask_zero` keeps it out of the recurrence and the loss. A seed makes the
  initial weights reproducible (seeded before any layer is built).
  """
  if seed is not None:
    tf.keras.utils.set_random_seed(seed)
  inputs = tf.keras.Input(shape=(sequence_length,), dtype=tf.int64)
  x = tf.keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=True,
                                name='embedding')(inputs)
  x = recurrent_stack(x, cell_type, units, num_layers,
                      return_sequences=return_sequences)
  return inputs, x
