"""Cross-entropy over real tokens only.

`tff.learning.models.from_keras_model` calls the loss as `loss(y_true, y_pred)`
and does not apply Keras' padding mask, so a plain loss would train the model
to predict padding. This loss masks the pad id itself, so federated training
and Keras (`fit`/`evaluate`) optimise and report the same quantity.
"""

import tensorflow as tf


class MaskedSparseCategoricalCrossentropy(tf.keras.losses.Loss):
  """Mean sparse cross-entropy over positions whose label is not `pad_id`."""

  def __init__(self, pad_id: int = 0, from_logits: bool = True,
               name: str = 'masked_sparse_categorical_crossentropy'):
    super().__init__(name=name)
    self._pad_id = pad_id
    self._from_logits = from_logits

  def weighted_terms(self, y_true, y_pred):
    """Per-token cross-entropy and weight (0 at padding): the loss is their
    weighted mean. The vectorized cohort uses this to take the loss over each
    client's real rows only."""
    y_true = tf.cast(y_true, tf.int64)
    per_token = tf.keras.losses.sparse_categorical_crossentropy(
        y_true, y_pred, from_logits=self._from_logits)
    return per_token, tf.cast(tf.not_equal(y_true, self._pad_id),
                              per_token.dtype)

  def __call__(self, y_true, y_pred, sample_weight=None):
    per_token, weight = self.weighted_terms(y_true, y_pred)
    if sample_weight is not None:
      weight *= tf.cast(tf.broadcast_to(sample_weight, tf.shape(weight)),
                        per_token.dtype)
    return tf.math.divide_no_nan(tf.reduce_sum(per_token * weight),
                                 tf.reduce_sum(weight))

  def call(self, y_true, y_pred):  # Unused: __call__ does the reduction.
    raise NotImplementedError

  def get_config(self):
    return {'pad_id': self._pad_id, 'from_logits': self._from_logits,
            'name': self.name}
