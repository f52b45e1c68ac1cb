"""Time-series forecaster: a window of past readings -> the next reading.

The model reads a window standardized by its client's train mean and standard
deviation (`series_stats`), so its weights always work on values near 1,
whatever the client's scale, and outputs the *change* from the window's last
reading, in those standard units: an untrained model is then close to the
naive forecast, and training has only the departure from it to learn.

The target `y` is [4, k]: the next reading in the data's own units, the
client's center and scale, and the window's last reading in standard units
(the base the change is added to). The loss compares in standard units (MSE,
what one learning rate can suit for every client); the metrics map the
forecast back to the data's own units (`(base + change) * scale + center`)
and report MAE and RMSE there. A plain Keras model (recurrent layers and
Dense), so every training path, the vectorized cohort included, runs it.
"""

from typing import Optional

import tensorflow as tf

from tff_lstm.models import recurrent

TARGET, CENTER, SCALE, BASE = 0, 1, 2, 3  # Rows of y.


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


def pack_target(target, center, scale, base):
  """y of one example: [4, k]."""
  return tf.stack([target, center, scale, base])


def in_own_units(y_true, change):
  """(target, forecast), both [b, k] in the data's own units."""
  standard = y_true[:, BASE, :] + change
  return (y_true[:, TARGET, :],
          standard * y_true[:, SCALE, :] + y_true[:, CENTER, :])


class ScaledMeanSquaredError(tf.keras.losses.Loss):
  """MSE in standard units: ((target - center) / scale - base - change)^2."""

  def __init__(self, name: str = 'scaled_mean_squared_error', **kwargs):
    super().__init__(name=name, **kwargs)

  def call(self, y_true, y_pred):
    scale = y_true[:, SCALE, :]
    # A scale is never 0 in data (`series_stats` makes it 1), but rows the
    # vectorized cohort pads with zeros must give a finite (if unweighted)
    # term: 0 * inf would poison the whole update with NaN.
    scale = tf.where(scale > 0, scale, tf.ones_like(scale))
    standard = (y_true[:, TARGET, :] - y_true[:, CENTER, :]) / scale
    return tf.reduce_mean(
        tf.square(standard - y_true[:, BASE, :] - y_pred), axis=-1)

  def weighted_terms(self, y_true, y_pred):
    """(per-example losses, weights 1): what the vectorized cohort sums."""
    values = self.call(y_true, y_pred)
    return values, tf.ones_like(values)


class MeanAbsoluteError(tf.keras.metrics.MeanAbsoluteError):
  """MAE of the forecast in the data's own units."""

  def __init__(self, name: str = 'mean_absolute_error', dtype=None):
    super().__init__(name=name, dtype=dtype)

  def update_state(self, y_true, y_pred, sample_weight=None):
    return super().update_state(*in_own_units(y_true, y_pred), sample_weight)


class RootMeanSquaredError(tf.keras.metrics.RootMeanSquaredError):
  """RMSE of the forecast in the data's own units."""

  def __init__(self, name: str = 'root_mean_squared_error', dtype=None):
    super().__init__(name=name, dtype=dtype)

  def update_state(self, y_true, y_pred, sample_weight=None):
    return super().update_state(*in_own_units(y_true, y_pred), sample_weight)
