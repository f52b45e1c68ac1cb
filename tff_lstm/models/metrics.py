"""Accuracy that ignores chosen token ids (padding, and OOV/EOS where asked).

Language-model batches are padded to a fixed length; counting pad positions as
"correct" would inflate accuracy, so the baselines of TFF report accuracy over
real tokens, with and without OOV/EOS.
"""

from collections.abc import Sequence

import tensorflow as tf


class MaskedCategoricalAccuracy(tf.keras.metrics.SparseCategoricalAccuracy):
  """Sparse categorical accuracy over positions whose label is not masked."""

  def __init__(self, masked_tokens: Sequence[int] = (0,),
               name: str = 'accuracy', dtype=None):
    super().__init__(name=name, dtype=dtype)
    self._masked_tokens = tuple(int(t) for t in masked_tokens)

  def update_state(self, y_true, y_pred, sample_weight=None):
    y_true = tf.cast(y_true, tf.int64)
    keep = tf.ones_like(y_true, dtype=tf.bool)
    for token in self._masked_tokens:
      keep = tf.logical_and(keep, tf.not_equal(y_true, token))
    weight = tf.cast(keep, self.dtype)
    if sample_weight is not None:
      weight *= tf.cast(tf.broadcast_to(sample_weight, tf.shape(weight)),
                        self.dtype)
    return super().update_state(y_true, y_pred, sample_weight=weight)

  def get_config(self):
    config = super().get_config()
    config['masked_tokens'] = self._masked_tokens
    return config
