"""Time-series forecaster: a window of past readings -> the next reading."""

from typing import Optional

import tensorflow as tf

from tff_lstm.models import recurrent


def build_forecaster(num_features: int, window: int, *, units: int = 64,
                     num_layers: int = 1, cell_type: str = 'lstm',
                     seed: Optional[int] = None) -> tf.keras.Model:
  if num_features < 1 or window < 1:
    raise ValueError('A forecaster needs num_features >= 1 and window >= 1, '
                     f'got {num_features} and {window}.')
  if seed is not None:
    tf.keras.utils.set_random_seed(seed)
  inputs = tf.keras.Input(shape=(window, num_features), dtype=tf.float32)
  x = recurrent.recurrent_stack(inputs, cell_type, units, num_layers,
                                return_sequences=False)
  outputs = tf.keras.layers.Dense(num_features, name='next_value')(x)
  return tf.keras.Model(inputs, outputs, name=f'forecaster_{cell_type}')
