"""The cohort's stacked-weight forward computes the Keras model it reads."""

import numpy as np
import pytest
import tensorflow as tf

from tff_lstm.algorithms import cohort_model
from tff_lstm.models import language_models


@pytest.mark.parametrize('num_layers', [1, 2, 3])
def test_forward_and_gradients_are_the_keras_models(num_layers):
  """Two LSTMs in a row run as one stacked step (a third on its own), and
  give the Keras model's logits and gradients, padding included."""
  vocab, steps = 12, 7
  model = language_models.build_char_lm(vocab, units=10,
                                        num_layers=num_layers,
                                        sequence_length=steps, seed=3)
  rng = np.random.default_rng(3)
  tokens = rng.integers(1, vocab, (3, steps))
  tokens[1, 4:] = 0  # padding: the embedding's mask reaches every LSTM
  tokens = tf.constant(tokens, tf.int64)
  forward = cohort_model.build_forward(model)

  with tf.GradientTape() as tape:
    keras_logits = model(tokens)
    keras_loss = tf.reduce_sum(keras_logits * tf.sin(keras_logits))
  keras_grads = tape.gradient(keras_loss, model.trainable_variables)

  weights = [tf.constant(v.numpy()[np.newaxis])
             for v in model.trainable_variables]
  with tf.GradientTape() as tape:
    tape.watch(weights)
    logits = forward(weights, tokens[tf.newaxis])[0]
    loss = tf.reduce_sum(logits * tf.sin(logits))
  grads = tape.gradient(loss, weights)

  np.testing.assert_allclose(logits, keras_logits, rtol=1e-5, atol=1e-5)
  for a, b in zip(grads, keras_grads):
    # The embedding's Keras gradient is IndexedSlices.
    np.testing.assert_allclose(a[0], tf.convert_to_tensor(b), rtol=1e-5,
                               atol=1e-5)


def test_two_lstms_in_a_row_share_their_loops(loop_body_ops):
  """At one client the two layers run in one forward and one reverse loop,
  not two each."""
  model = language_models.build_char_lm(12, units=10, num_layers=2,
                                        sequence_length=5, seed=0)
  forward = cohort_model.build_forward(model)
  weights = [tf.constant(v.numpy()[np.newaxis])
             for v in model.trainable_variables]
  tokens = tf.ones([1, 2, 5], tf.int64)

  @tf.function
  def grads(weights):
    with tf.GradientTape() as tape:
      tape.watch(weights)
      loss = tf.reduce_sum(forward(weights, tokens))
    return tape.gradient(loss, weights)

  assert len(loop_body_ops(grads, weights)) == 2
